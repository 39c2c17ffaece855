// Signed updates on an ESP32: the other OTA slot through ECMA-419 `embedded:update` (the SDK's
// modules/io/update/esp32: esp_ota_begin/write/end and esp_ota_set_boot_partition), the slot found
// and measured with `embedded:storage/flash` ("nextota": esp_ota_get_next_update_partition), the
// rollback state through the project's own native (esp32-state.c: ESP-IDF's app rollback), and the
// signature check (p256.ts over the SDK's ECDSA). The manifest maps "moddable/plug-update" to this
// module on the esp32 platform only (update-none.ts elsewhere). It also passes on, for io-esp.ts, the
// level a restart left on the relay's pin (esp32-state.c), so that an update's restart, or a
// rollback's, does not switch the load.
//
// What the SDK does (8.2.3, update-esp32.c), which shapes this:
// - open({partition, byteLength}) in its default mode "a" writes sequentially
//   (OTA_WITH_SEQUENTIAL_WRITES: each sector erased as it is reached); byteLength is only checked
//   against the partition's size. It throws when esp_ota_begin fails, e.g. while the running app is
//   itself on trial (ESP-IDF refuses to overwrite the image a rollback would need).
// - write(bytes) throws when esp_ota_write fails (e.g. the image's first bytes are not an app's magic).
// - complete() runs esp_ota_end, which checks the image (its header, segments and appended SHA-256),
//   then sets it to boot next; it throws when either fails.
// - close() (also the destructor) aborts an unfinished update (esp_ota_abort): that slot never boots.
// The partitions exist only when the build splits the app partition (manifest: "defines": {"ota":
// {"autosplit": 1}}); without them "nextota" is not found and the plug has no updates.

import FlashStorage, { type Flash } from "embedded:storage/flash";
import Update, { type Updater } from "embedded:update";
import type { LogPort, UpdatePort } from "../ports/ports.js";
import type { PlatformUpdates, UpdatesFactory } from "./io.js";
import { otaConfirm, otaPending } from "./esp32-state.js";
export { drivenLevel } from "./esp32-state.js";
import { p256Verifier } from "./p256.js";

const NEXT_SLOT = "nextota";

export class EspUpdate implements UpdatePort {
  private updater: Updater | null = null;
  private length = 0;
  private written = 0;

  constructor(
    readonly slotBytes: number,
    private readonly log: LogPort,
  ) {}

  begin(length: number): boolean {
    this.abort();
    if (!(length > 0 && length <= this.slotBytes)) return false;
    let slot: Flash | null = null;
    try {
      slot = FlashStorage.open({ path: NEXT_SLOT });
      this.updater = Update.open({ partition: slot, byteLength: length });
    } catch (e) {
      this.log(`update: the other slot cannot be opened (${String(e)})`);
      return false;
    } finally {
      slot?.close(); // the updater keeps the partition itself
    }
    this.length = length;
    this.written = 0;
    return true;
  }

  write(bytes: Uint8Array): boolean {
    const updater = this.updater;
    if (updater === null || this.written + bytes.length > this.length) return false;
    try {
      updater.write(bytes);
    } catch (e) {
      this.log(`update: writing the other slot failed (${String(e)})`);
      this.abort();
      return false;
    }
    this.written += bytes.length;
    return true;
  }

  complete(): boolean {
    const updater = this.updater;
    if (updater === null || this.written !== this.length) return false;
    try {
      updater.complete();
    } catch (e) {
      this.log(`update: the new image was not accepted by ESP-IDF (${String(e)})`);
      this.abort();
      return false;
    }
    updater.close();
    this.updater = null;
    return true;
  }

  abort(): void {
    const updater = this.updater;
    this.updater = null;
    if (updater === null) return;
    try {
      updater.close();
    } catch {
      // already closed by a failure
    }
  }

  pendingConfirmation(): boolean {
    return otaPending();
  }

  confirm(): void {
    if (!otaConfirm()) this.log("update: ESP-IDF did not mark the running image valid");
  }
}

/** The other slot's size in bytes, or 0 when the build has no OTA partitions. */
export function otherSlotBytes(): number {
  try {
    const slot = FlashStorage.open({ path: NEXT_SLOT, mode: "r" });
    try {
      return slot.status().size;
    } finally {
      slot.close();
    }
  } catch {
    return 0;
  }
}

/** The ESP32's updates, or none (said on the log) when the build has no second slot. */
export const createUpdates: UpdatesFactory = (log: LogPort): PlatformUpdates | undefined => {
  const bytes = otherSlotBytes();
  if (bytes === 0) {
    log('firmware updates: off, this build has no second app slot (the manifest\'s "defines": {"ota": {"autosplit": 1}})');
    return undefined;
  }
  return { port: new EspUpdate(bytes, log), p256: p256Verifier };
};
