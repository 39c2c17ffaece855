// Updates on the host: the two firmware slots of an ESP32 and its bootloader's rollback, simulated
// with files in the state directory.
//
// The host cannot run a firmware image, so a host image is a small JSON object that says what the
// plug would be running:
//   {"version": "1.1.0-host", "confirms": true}
// `version` (1-32 printable ASCII characters) is what the plug then runs; `confirms: false` makes an
// image that never manages to confirm itself (as one that cannot join its network), for trying a
// rollback. Signed like any image: `npm run sign -- image.json` (the version in the header defaults to
// the image's own). Anything else in a slot does not boot (as a corrupt app fails the bootloader's
// check): the bootloader goes back to the previous image at once.
//
// The files: firmware-a.bin and firmware-b.bin (the slots: the image's bytes, header and signature
// already checked off) and firmware.json, the bootloader's data (ESP32's otadata):
//   {"boot": "factory" | "a" | "b", "previous": "factory" | "a" | "b" | null, "state": "valid" | "new" | "trial"}
// "factory" is the firmware the host was built as (no slot file). `complete` points `boot` at the
// slot just written, state "new"; the next boot makes it "trial" and runs it; a boot that finds
// "trial" (the image restarted before it confirmed itself) goes back to `previous`. `confirm` makes
// the running image "valid". As ESP-IDF does, no update begins while the running image is on trial
// (it would overwrite the image a rollback needs).

import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { LogPort, UpdatePort } from "../ports/ports.js";
import { UPDATE_KEY_BYTES } from "../core/update/image.js";

export const FIRMWARE_STATE_FILE = "firmware.json";
/** Every file of the firmware slots in the state directory (store.ts's PLUG_FILES lists them). */
export const FIRMWARE_FILES: readonly string[] = Object.freeze([FIRMWARE_STATE_FILE, FIRMWARE_STATE_FILE + ".tmp", "firmware-a.bin", "firmware-b.bin"]);

/**
 * The version of the firmware the host was built as (the "factory" image): package.json's, marked
 * as the host's. A constant (the host also runs bundled, away from package.json);
 * host-tests/update-host.test.ts holds it to package.json's version.
 */
export const HOST_FIRMWARE_VERSION = "0.1.0-host";
/** The host's slots: a host image is a few bytes, a slot takes up to this many (an ESP32's autosplit 4 MB flash has about 1.9 MB). */
export const HOST_SLOT_BYTES = 1024 * 1024;
const FILE_MODE = 0o600;

export type SlotName = "factory" | "a" | "b";
type SlotState = "valid" | "new" | "trial";

interface BootData {
  boot: SlotName;
  previous: SlotName | null;
  state: SlotState;
}

/** What runs: its slot, version, and whether it can confirm itself. */
export interface HostImage {
  slot: SlotName;
  version: string;
  confirms: boolean;
}

const FACTORY: BootData = Object.freeze({ boot: "factory", previous: null, state: "valid" });

function slotName(v: unknown): v is SlotName {
  return v === "factory" || v === "a" || v === "b";
}

/** A host image's fields, or undefined when the bytes are not one. */
export function parseHostImage(bytes: Uint8Array): { version: string; confirms: boolean } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { version, confirms } = value as { version?: unknown; confirms?: unknown };
  if (typeof version !== "string" || !/^[\x20-\x7e]{1,32}$/.test(version)) return undefined;
  if (confirms !== undefined && typeof confirms !== "boolean") return undefined;
  return { version, confirms: confirms !== false };
}

/**
 * The owner's public key from keygen's JSON file ({"curve": "P-256", "key": "04..."}, 65 bytes in
 * hex). Throws with a message naming the file when it is not one.
 */
export function readUpdateKey(file: string): Uint8Array {
  let value: { curve?: unknown; key?: unknown };
  try {
    value = JSON.parse(readFileSync(file, "utf8")) as typeof value;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (value?.curve !== "P-256" || typeof value.key !== "string" || !/^04[0-9a-fA-F]{128}$/.test(value.key)) {
    throw new Error(`${file} is not an update public key (npm run keygen makes one: {"curve": "P-256", "key": "04..."})`);
  }
  const key = new Uint8Array(Buffer.from(value.key, "hex"));
  if (key.length !== UPDATE_KEY_BYTES) throw new Error(`${file}: the key must be ${UPDATE_KEY_BYTES} bytes`);
  return key;
}

export class HostUpdate implements UpdatePort {
  readonly slotBytes: number;
  /** What runs since `boot`. */
  running: HostImage;
  private data: BootData = FACTORY;
  /** The bootloader's data as `boot` left it: what an unfinished update goes back to. */
  private booted: BootData = FACTORY;
  private fd: number | null = null;
  private target: SlotName = "a";
  private length = 0;
  private written = 0;

  constructor(
    private readonly dir: string,
    private readonly factoryVersion: string,
    private readonly log: LogPort = () => {},
    slotBytes = HOST_SLOT_BYTES,
  ) {
    this.slotBytes = slotBytes;
    this.running = { slot: "factory", version: factoryVersion, confirms: true };
  }

  /** The bootloader, at each start of the plug: picks the image that runs (trial, rollback) and returns it. */
  boot(): HostImage {
    let data = this.readData();
    if (data.state === "trial") {
      const back = data.previous ?? "factory";
      this.log(`firmware ${this.versionIn(data.boot)} was not confirmed: rolled back to ${this.versionIn(back)}`);
      data = { boot: back, previous: null, state: "valid" };
      this.writeData(data);
    } else if (data.state === "new") {
      data = { ...data, state: "trial" };
      this.writeData(data);
    }
    let image = this.load(data.boot);
    if (image === undefined) {
      // as a corrupt app: the bootloader does not start it and goes back at once
      const back = data.previous ?? "factory";
      this.log(`firmware slot ${data.boot} does not hold a bootable image: rolled back to ${this.versionIn(back)}`);
      data = { boot: back, previous: null, state: "valid" };
      this.writeData(data);
      image = this.load(back) ?? { slot: "factory", version: this.factoryVersion, confirms: true };
    }
    this.data = this.booted = data;
    this.running = image;
    return image;
  }

  begin(length: number): boolean {
    this.abort();
    if (length <= 0 || length > this.slotBytes || this.data.state === "trial") return false;
    if (this.data.state === "new") {
      // an update completed and not booted yet: this one replaces it
      this.data = this.booted;
      this.writeData(this.data);
    }
    this.target = this.running.slot === "a" ? "b" : "a";
    try {
      this.fd = openSync(this.slotPath(this.target), "w", FILE_MODE);
    } catch (e) {
      this.log(`firmware slot ${this.target}: ${(e as Error).message}`);
      return false;
    }
    this.length = length;
    this.written = 0;
    return true;
  }

  write(bytes: Uint8Array): boolean {
    if (this.fd === null || this.written + bytes.length > this.length) return false;
    try {
      writeSync(this.fd, bytes);
    } catch (e) {
      this.log(`firmware slot ${this.target}: ${(e as Error).message}`);
      return false;
    }
    this.written += bytes.length;
    return true;
  }

  complete(): boolean {
    if (this.fd === null || this.written !== this.length) return false;
    closeSync(this.fd);
    this.fd = null;
    this.data = { boot: this.target, previous: this.running.slot, state: "new" };
    this.writeData(this.data);
    return true;
  }

  abort(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    rmSync(this.slotPath(this.target), { force: true });
  }

  pendingConfirmation(): boolean {
    return this.booted.state === "trial" && this.data.state === "trial";
  }

  confirm(): void {
    if (!this.pendingConfirmation() || !this.running.confirms) return; // an image that never confirms itself
    this.data = this.booted = { ...this.data, state: "valid" };
    this.writeData(this.data);
  }

  private slotPath(slot: SlotName): string {
    return join(this.dir, `firmware-${slot}.bin`);
  }

  private load(slot: SlotName): HostImage | undefined {
    if (slot === "factory") return { slot, version: this.factoryVersion, confirms: true };
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(this.slotPath(slot));
    } catch {
      return undefined;
    }
    const image = bytes.length <= this.slotBytes ? parseHostImage(bytes) : undefined;
    return image === undefined ? undefined : { slot, ...image };
  }

  private versionIn(slot: SlotName): string {
    return this.load(slot)?.version ?? `in slot ${slot} (unreadable)`;
  }

  /** The bootloader's data; none or unreadable: the factory image, valid (as an erased otadata). */
  private readData(): BootData {
    try {
      const v = JSON.parse(readFileSync(join(this.dir, FIRMWARE_STATE_FILE), "utf8")) as Partial<BootData>;
      const state = v.state;
      if (slotName(v.boot) && (v.previous === null || slotName(v.previous)) && (state === "valid" || state === "new" || state === "trial")) {
        return { boot: v.boot, previous: v.previous, state };
      }
    } catch {
      // none yet, or unreadable
    }
    return FACTORY;
  }

  /** Written whole or not at all (a temporary file renamed over it). */
  private writeData(data: BootData): void {
    const path = join(this.dir, FIRMWARE_STATE_FILE);
    writeFileSync(path + ".tmp", JSON.stringify(data) + "\n", { mode: FILE_MODE });
    renameSync(path + ".tmp", path);
  }
}
