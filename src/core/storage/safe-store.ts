// Settings that survive a power cut at any point of a write. The platform's store (Preference on an
// ESP8266) can be cut mid-write: its `set` first zeroes the key's old record, then appends the new
// one, so a cut in between loses the key and a cut during the append leaves a torn record. Here each
// setting K has two slots, K and K + "~", and each stored value starts with a 3-character check of
// key and value, so that a torn or corrupt record is recognised and ignored:
//
// - write(K, v) writes the slot that does NOT hold K's good value and, only once that write
//   succeeded, removes the other slot. Until then the old value is intact in its own slot: a cut at
//   any point leaves the old value or the new one, never neither, never garbage.
// - read(K) takes the plain slot K when its check matches, else the spare slot K~, else nothing.
//   Both slots are good only after a cut between a write and its removal: the two values are then
//   the one before that write and the one it wrote, and the write never returned, so either is a
//   true state. The plain slot is taken because the choice must be fixed (every read, across
//   restarts, gives the same answer); the next write goes to the spare slot, replacing the value not
//   taken, then removes the plain one, and opening the store removes the spare one at once.
// - remove(K) removes the spare slot first, then the plain one, so a cut between them leaves the
//   value that was read (the plain slot's), not the one that was not.
//
// Settings stored before this existed have no check: opening the store migrates them (below), and a
// marker key records that it was done. Runs in XS on an ESP8266: no RegExp, few allocations, and
// flat calls (the boot's stack has a few slots to spare, docs/MEMORY.md).

import type { KeyValuePort } from "../../ports/ports.js";
import { DIGITS } from "./pack.js";
import { utf8Length } from "../protocol/wire/utf8.js";

/** The largest value the platform's store holds, bytes of UTF-8 (Preference on an ESP8266). */
export const RECORD_BYTES = 63;
/** Characters of check before each stored value (18 bits in the pack.ts alphabet). */
export const CHECK_CHARS = 3;
/** The largest value a setting can have: a record less its check. */
export const SAFE_VALUE_BYTES = RECORD_BYTES - CHECK_CHARS;
/** Longest setting key: the platform's 15 characters (ESP32 NVS) less the spare slot's "~". */
export const MAX_SAFE_KEY_CHARS = 14;

/** The spare slot of setting K is K + SPARE. */
export const SPARE = "~";
/** Present once every setting is in the checked form; its key starts with "~", which no setting's can. */
const MARKER = "~v";
const MARKER_VALUE = "1";
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The 3-character check of `value` stored under setting `key`: FNV-1a (32 bits) over the UTF-8 bytes
 * of key, a NUL and value (lone surrogates as U+FFFD, as utf8.ts encodes them), folded to 18 bits.
 * It runs on every read (as checkBits, below).
 */
export function checkOf(key: string, value: string): string {
  const v = checkBits(key, value, 0);
  return DIGITS[v >> 12] + DIGITS[(v >> 6) & 63] + DIGITS[v & 63];
}

/** checkOf's 18 bits, of `value` from character `start` on (a record's value, without slicing it off). */
function checkBits(key: string, value: string, start: number): number {
  let h = FNV_OFFSET;
  for (let part = 0; part < 2; part++) {
    const text = part === 0 ? key : value;
    // by character code, not `for (const ch of text)`: that makes a string per character, and every
    // setting read (each rule, whenever a rule is looked at: rules.ts) runs this
    for (let i = part === 0 ? 0 : start; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(i + 1) - 0xdc00);
        i++;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      // the lead byte (0xxxxxxx, 110xxxxx, 1110xxxx or 11110xxx), then 10xxxxxx for each 6 bits left
      h = Math.imul(h ^ (n === 1 ? c : ((0xff00 >> n) & 0xff) | (c >> (6 * (n - 1)))), FNV_PRIME);
      for (let k = n - 2; k >= 0; k--) h = Math.imul(h ^ (0x80 | ((c >> (6 * k)) & 0x3f)), FNV_PRIME);
    }
    if (part === 0) h = Math.imul(h, FNV_PRIME); // the NUL between key and value
  }
  h >>>= 0;
  return (h ^ (h >>> 18)) & 0x3ffff;
}

/** The value in a stored record when its check matches, else undefined (absent, torn or corrupt). */
export function checked(key: string, record: string | undefined): string | undefined {
  if (record === undefined || record.length < CHECK_CHARS) return undefined;
  // compared by character code: a read makes no string but the value it returns
  const v = checkBits(key, record, CHECK_CHARS);
  if (record.charCodeAt(0) !== DIGITS.charCodeAt(v >> 12) || record.charCodeAt(1) !== DIGITS.charCodeAt((v >> 6) & 63) || record.charCodeAt(2) !== DIGITS.charCodeAt(v & 63)) return undefined;
  return record.slice(CHECK_CHARS);
}

/** A setting key this store takes: 1-14 characters, no "~" (the spare slot's and the marker's). */
function usable(key: string): boolean {
  return key.length > 0 && key.length <= MAX_SAFE_KEY_CHARS && key.indexOf(SPARE) < 0;
}

/** The longest start of `text` that fits `bytes` of UTF-8, cut between characters. */
function fit(text: string, bytes: number): string {
  if (utf8Length(text) <= bytes) return text;
  let n = 0;
  let end = 0;
  for (const ch of text) {
    n += utf8Length(ch);
    if (n > bytes) break;
    end += ch.length;
  }
  return text.slice(0, end);
}

export class SafeStore implements KeyValuePort {
  /**
   * Opens the platform's store and leaves each setting one record, the one read would take: torn
   * records go, and so does the slot a cut left beside a good one. Before the marker, a plain slot
   * without a good check is a setting from before the checks: it is copied, checked, to the spare
   * slot (cut to SAFE_VALUE_BYTES, the most a setting now holds between characters) and removed only
   * once the copy is complete; a cut before that leaves it to be migrated at the next opening, and
   * the marker is written once every setting is done. A plain slot whose check happens to match is
   * taken as checked (a marker lost with a flash sector is no reason to wrap good records again; an
   * old value that matches by chance, 1 in 262,144, would lose its first 3 characters). A cut while
   * opening loses nothing either: each step is one the rules above allow. One flat loop: it runs
   * from the boot's stack (see settings.ts).
   */
  constructor(
    /** The platform's store (Settings reads its slots directly: see settings.ts). */
    readonly raw: KeyValuePort,
  ) {
    const migrated = raw.read(MARKER) === MARKER_VALUE;
    const keys = raw.keys();
    let complete = true;
    for (let i = 0; i < keys.length; i++) {
      const slot = keys[i];
      const inSpare = slot.length > 1 && slot.endsWith(SPARE);
      const key = inSpare ? slot.slice(0, -1) : slot;
      // internal keys, keys too long to have a spare slot, and spare slots whose plain slot comes up too
      if (!usable(key) || (inSpare && keys.indexOf(key) >= 0)) continue;
      const plain = raw.read(key);
      const spare = raw.read(key + SPARE);
      if (checked(key, plain) !== undefined) {
        if (spare !== undefined) raw.remove(key + SPARE);
        continue;
      }
      if (checked(key, spare) === undefined) {
        if (spare !== undefined) raw.remove(key + SPARE); // torn: no value to keep
        if (plain === undefined) continue;
        if (!migrated) {
          const value = fit(plain, SAFE_VALUE_BYTES);
          const record = checkOf(key, value) + value;
          if (!raw.write(key + SPARE, record)) {
            complete = false;
            continue;
          }
        }
      }
      if (plain !== undefined) raw.remove(key);
    }
    if (!migrated && complete) raw.write(MARKER, MARKER_VALUE);
  }

  read(key: string): string | undefined {
    if (!usable(key)) return undefined;
    const plain = checked(key, this.raw.read(key));
    return plain !== undefined ? plain : checked(key, this.raw.read(key + SPARE));
  }

  /** Writes nothing when the value is already stored; false when the store refused it: the old one is still there. */
  write(key: string, value: string): boolean {
    if (!usable(key)) return false;
    // as Settings reads (two statements a read: see settings.ts), and where the value is
    let current = this.raw.read(key);
    current = checked(key, current);
    const inPlain = current !== undefined;
    if (!inPlain) {
      current = this.raw.read(key + SPARE);
      current = checked(key, current);
    }
    if (current === value) return true;
    // a tail call: XS runs it in place of this frame, which is not under the platform's write then
    return this.replace(inPlain ? key + SPARE : key, inPlain ? key : key + SPARE, checkOf(key, value) + value);
  }

  /** Writes `record` to slot `to`, and only once it is there removes slot `from`. */
  private replace(to: string, from: string, record: string): boolean {
    if (!this.raw.write(to, record)) return false;
    this.raw.remove(from);
    return true;
  }

  remove(key: string): void {
    if (!usable(key)) return;
    this.raw.remove(key + SPARE);
    this.raw.remove(key);
  }

  /** The settings with a good value (each once, without its slots or the marker). */
  keys(): string[] {
    const slots = this.raw.keys();
    const out: string[] = [];
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      const key = slot.length > 1 && slot.endsWith(SPARE) ? slot.slice(0, -1) : slot;
      if (usable(key) && out.indexOf(key) < 0 && this.read(key) !== undefined) out.push(key);
    }
    return out;
  }
}
