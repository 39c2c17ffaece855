// Persistent settings over the platform's key-value port, through a SafeStore (safe-store.ts) so that
// a power cut never loses or garbles one. Every key and its bounds are in this one table; a stored value that is
// missing, corrupt or out of bounds reads as the default, never as garbage.

import type { KeyValuePort } from "../ports/ports.js";
import { checked, SAFE_VALUE_BYTES, SPARE, type SafeStore } from "./safe-store.js";
import { utf8Length } from "./wire/utf8.js";

/** Setting keys (at most 14 characters each: the Preference limit on ESP32, 15, less SafeStore's "~"). */
export const KEY = Object.freeze({
  relay: "relay",
  ledOff: "led_off",
  alias: "alias",
  latitude: "lat_i",
  longitude: "lon_i",
  zone: "zone",
  iconHash: "icon_hash",
  cloudServer: "cld_server",
  joinSsid: "join_ssid",
  joinResult: "join_res",
  /** Rules: a prefix and the rule's slot number ("sc0".."sc19"); the prefix + "_on" holds the table's switch. */
  scheduleRules: "sc",
  awayRules: "aw",
  countdownRule: "cd",
  /** When the running countdown ends, UTC seconds (absent when none runs). */
  countdownEnd: "cd_end",
  /** The relay before the current away-mode window (absent outside one). */
  awayBefore: "aw_prev",
  /** Minutes on per day, one month per key ("rd" + 0..2), and per month, one year per key ("rm" + 0..1). */
  dayStats: "rd",
  monthStats: "rm",
  /** Energy (energy.ts): the total in mWh; Wh per day, half a month per key ("ed" + 0..3); per month, a year per key ("em" + 0..1). */
  energyTotal: "e_tot",
  energyDays: "ed",
  energyMonths: "em",
  /** The meter's calibration gains set by a user, "v,i,p" in parts per million (a factory reset wipes them: back to the board's). */
  calibration: "cal",
  // identity: kept by a factory reset
  model: "model",
  mac: "mac",
  deviceId: "dev_id",
  hwId: "hw_id",
  oemId: "oem_id",
  /** The setup network's passphrase: on a label or in a notebook, so a reset keeps it. */
  setupKey: "setup_key",
});

/**
 * What a factory reset keeps: who the device is, not what it was told. A user's calibration is
 * wiped with the rest: the meter goes back to the gains its board gives its driver (the chip's
 * constants unless the board says otherwise), so that a reset undoes a wrong calibration.
 */
export const IDENTITY_KEYS: readonly string[] = Object.freeze([KEY.model, KEY.mac, KEY.deviceId, KEY.hwId, KEY.oemId, KEY.setupKey]);

/**
 * The largest value a setting holds, bytes of UTF-8: 60, the Preference limit on ESP8266 (63) less
 * the check that safe-store.ts stores before each value.
 */
export const MAX_VALUE_BYTES = SAFE_VALUE_BYTES;

export class Settings {
  /** The platform's store under the SafeStore: `int` and `text` read its two slots themselves. */
  private readonly raw: KeyValuePort;

  constructor(private readonly kv: SafeStore) {
    this.raw = kv.raw;
  }

  // int and text do what SafeStore.read does, inline: a call less on the deepest stack of the boot,
  // which reads every setting with a few of the ESP8266's 256 stack slots to spare (docs/MEMORY.md).
  // In the memory check's simulator the boot peaked at 247 slots before the SafeStore, 263 with
  // reads through SafeStore.read (its frame alone is 14), 250 like this. Two statements per read, so
  // that no half-made call waits on the stack during the platform's read.

  int(key: string, min: number, max: number, fallback: number): number {
    let raw = this.raw.read(key);
    raw = checked(key, raw);
    if (raw === undefined) {
      raw = this.raw.read(key + SPARE);
      raw = checked(key, raw);
    }
    if (raw === undefined || raw.length === 0 || raw.length > 12) return fallback;
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max ? value : fallback;
  }

  text(key: string, fallback: string): string {
    let raw = this.raw.read(key);
    raw = checked(key, raw);
    if (raw === undefined) {
      raw = this.raw.read(key + SPARE);
      raw = checked(key, raw);
    }
    return raw === undefined || utf8Length(raw) > MAX_VALUE_BYTES ? fallback : raw;
  }

  /** Stores a value (nothing is written when it is already stored); false when the store refused it (full, failing): the caller keeps the old state. */
  put(key: string, value: string | number): boolean {
    const text = typeof value === "number" ? String(value) : value;
    return utf8Length(text) <= MAX_VALUE_BYTES && this.kv.write(key, text);
  }

  remove(key: string): void {
    this.kv.remove(key);
  }

  /** Removes every setting but those in `keep`. */
  wipe(keep: readonly string[]): void {
    for (const key of this.kv.keys()) if (keep.indexOf(key) < 0) this.kv.remove(key);
  }
}
