// Stand-ins for the SDK's ECMA-419 `embedded:storage/flash` and `embedded:update` on ESP32
// (modules/io/flash/esp32/flash-esp32.c, modules/io/update/esp32/update-esp32.c; SDK 8.2.3) and for
// the project's esp32-state.c, over a simulated ESP-IDF OTA (two app slots, otadata), for the tests of
// src/moddable/update-esp32.ts without the SDK or a chip. What they keep of the natives:
// - flash open({path: "nextota"}) is the OTA slot that is not running; no such partition throws
//   ("can't find partition"), as a build without "ota": {"autosplit": 1}; status().size is its size.
// - update open({partition, byteLength}) needs an open Flash (a closed one throws), refuses a
//   byteLength over the partition's size (RangeError) and throws when esp_ota_begin fails: the
//   running app is on trial (ESP_ERR_OTA_ROLLBACK_INVALID_STATE). The default mode appends.
// - write(bytes) takes one argument in append mode ("offset not allowed"); esp_ota_write refuses a
//   first byte that is not an app image's magic 0xE9 ("write failed").
// - complete() is esp_ota_end (the image checked: here, `idf.imageValid`) and then
//   esp_ota_set_boot_partition; it throws on either; "already complete" after.
// - close() and the destructor abort an unfinished update (esp_ota_abort): nothing of it boots.

export const APP_MAGIC = 0xe9;

/** The simulated chip: its slots, what boots next, the running app's rollback state. */
export const idf = {
  /** The OTA slots' sizes; empty: a build without OTA partitions. */
  slots: [0x1f0000, 0x1fe000] as number[],
  running: 0,
  /** The slot set to boot next (esp_ota_set_boot_partition), or null. */
  bootNext: null as number | null,
  /** The running app is ESP_OTA_IMG_PENDING_VERIFY. */
  pendingVerify: false,
  /** esp_ota_mark_app_valid_cancel_rollback succeeds. */
  markValidWorks: true,
  /** esp_ota_end finds the image good. */
  imageValid: true,
  /** Bytes written to each slot by the last update into it. */
  written: new Map<number, Uint8Array[]>(),
  aborts: 0,
  reset(): void {
    this.slots = [0x1f0000, 0x1fe000];
    this.running = 0;
    this.bootNext = null;
    this.pendingVerify = false;
    this.markValidWorks = true;
    this.imageValid = true;
    this.written = new Map();
    this.aborts = 0;
  },
};

export class Flash {
  closed = false;
  constructor(readonly slot: number) {}
  close(): void {
    this.closed = true;
  }
  status(): { size: number; blockLength: number; blocks: number } {
    if (this.closed) throw new Error("closed");
    const size = idf.slots[this.slot];
    return { size, blockLength: 4096, blocks: size / 4096 };
  }
}

export const FlashStorage = {
  open(options: { path: string; mode?: string }): Flash {
    if (options.path !== "nextota" || idf.slots.length < 2) throw new Error("can't find partition");
    return new Flash((idf.running + 1) % idf.slots.length);
  },
};

export class Updater {
  private open = true;
  private done = false;
  private parts: Uint8Array[] = [];
  constructor(private readonly slot: number) {}
  write(...args: unknown[]): void {
    if (!this.open || this.done) throw new Error("already complete");
    if (args.length > 1) throw new Error("offset not allowed");
    const bytes = args[0] as Uint8Array;
    if (this.parts.length === 0 && bytes.length > 0 && bytes[0] !== APP_MAGIC) throw new Error("write failed");
    this.parts.push(Uint8Array.from(bytes));
  }
  complete(): void {
    if (!this.open || this.done) throw new Error("already complete");
    this.done = true;
    if (!idf.imageValid) throw new Error("end failed");
    idf.written.set(this.slot, this.parts);
    idf.bootNext = this.slot;
  }
  close(): void {
    if (this.open && !this.done) idf.aborts++;
    this.open = false;
  }
}

export const Update = {
  open(options: { partition: Flash; byteLength?: number; mode?: string }): Updater {
    const flash = options.partition;
    if (!(flash instanceof Flash) || flash.closed) throw new Error("no partition");
    if (options.byteLength !== undefined && options.byteLength > idf.slots[flash.slot]) throw new RangeError("invalid byteLength");
    if (idf.pendingVerify) throw new Error("begin failed");
    return new Updater(flash.slot);
  },
};

export function otaPending(): boolean {
  return idf.pendingVerify;
}

export function otaConfirm(): boolean {
  if (!idf.markValidWorks) return false;
  idf.pendingVerify = false;
  return true;
}

export function drivenLevel(_pin: number): number {
  return -1;
}
