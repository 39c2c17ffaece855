// Settings on Moddable `preference`. Values are stored as UTF-8 bytes (an ArrayBuffer): on an
// ESP8266 a string value holds at most 62 characters (its NUL counts), bytes hold the full 63.
// One short domain keeps each record (domain + key + value + overhead) under the 128-byte limit.

import Preference from "preference";
import type { KeyValuePort } from "../ports/ports.js";
import { utf8Decode, utf8Encode } from "../core/wire/utf8.js";

const DOMAIN = "plug";

export class PreferenceStore implements KeyValuePort {
  read(key: string): string | undefined {
    let value: unknown;
    try {
      value = Preference.get(DOMAIN, key);
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
      if (value.length === 0) Preference.set(DOMAIN, key, "");
      else Preference.set(DOMAIN, key, utf8Encode(value).buffer as ArrayBuffer);
      return true;
    } catch {
      return false; // "can't save prefs": full, or a record over the limit
    }
  }

  remove(key: string): void {
    try {
      Preference.delete(DOMAIN, key);
    } catch {
      // already gone
    }
  }

  keys(): string[] {
    try {
      return Preference.keys(DOMAIN);
    } catch {
      return [];
    }
  }
}
