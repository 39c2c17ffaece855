// Settings on Moddable `preference`. Values are stored as UTF-8 bytes (an ArrayBuffer): on an
// ESP8266 a string value holds at most 62 characters (its NUL counts), bytes hold the full 63.
// One short domain keeps each record (domain + key + value + overhead) under the 128-byte limit.

import type Preference from "preference";
import type { KeyValuePort } from "../ports/ports.js";
import { utf8Decode, utf8Encode } from "../core/protocol/wire/utf8.js";

const DOMAIN = "plug";

/** The `preference` module: handed in by the composition root, because importing it here would keep
 * this module from being preloaded (the simulator's preference reads its file at module top level). */
export type Preferences = typeof Preference;

export class PreferenceStore implements KeyValuePort {
  constructor(private readonly prefs: Preferences) {}

  read(key: string): string | undefined {
    let value: unknown;
    try {
      value = this.prefs.get(DOMAIN, key);
    } catch {
      return undefined;
    }
    if (value instanceof ArrayBuffer) return utf8Decode(new Uint8Array(value));
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return undefined;
  }

  write(key: string, value: string): boolean {
    try {
      // encoded first, not among set's arguments: the call waiting for them would sit on the XS
      // stack under the encoding, on the deepest path of a request that writes a rule
      const bytes = value.length === 0 ? "" : (utf8Encode(value).buffer as ArrayBuffer);
      this.prefs.set(DOMAIN, key, bytes);
      return true;
    } catch {
      return false; // "can't save prefs": full, or a record over the limit
    }
  }

  remove(key: string): void {
    try {
      this.prefs.delete(DOMAIN, key);
    } catch {
      // already gone
    }
  }

  keys(): string[] {
    try {
      return this.prefs.keys(DOMAIN);
    } catch {
      return [];
    }
  }
}
