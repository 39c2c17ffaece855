// Persistent settings over the key-value port. Every key and its bounds are in this one table; a
// stored value that is missing, corrupt or out of bounds reads as the default, never as garbage.

import type { KeyValuePort } from "../ports/ports.js";
import { utf8Length } from "./wire/utf8.js";

/** Setting keys (at most 15 characters each: the Preference limit on ESP8266/ESP32). */
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
  vgain: "vgain",
  igain: "igain",
  // identity: kept by a factory reset
  model: "model",
  mac: "mac",
  deviceId: "dev_id",
  hwId: "hw_id",
  oemId: "oem_id",
  /** The setup network's passphrase: on a label or in a notebook, so a reset keeps it. */
  setupKey: "setup_key",
});

/** What a factory reset keeps: who the device is, not what it was told. */
export const IDENTITY_KEYS: readonly string[] = Object.freeze([KEY.model, KEY.mac, KEY.deviceId, KEY.hwId, KEY.oemId, KEY.setupKey]);

/** The largest value a store must hold (bytes of UTF-8): the Preference limit on ESP8266. */
export const MAX_VALUE_BYTES = 63;

export class Settings {
  constructor(private readonly kv: KeyValuePort) {}

  int(key: string, min: number, max: number, fallback: number): number {
    const raw = this.kv.read(key);
    if (raw === undefined || raw.length === 0 || raw.length > 12) return fallback;
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max ? value : fallback;
  }

  text(key: string, fallback: string): string {
    const raw = this.kv.read(key);
    return raw === undefined || utf8Length(raw) > MAX_VALUE_BYTES ? fallback : raw;
  }

  /** Stores a value; false when the store refused it (full, failing): the caller keeps the old state. */
  put(key: string, value: string | number): boolean {
    const text = typeof value === "number" ? String(value) : value;
    if (utf8Length(text) > MAX_VALUE_BYTES) return false;
    if (this.kv.read(key) === text) return true;
    return this.kv.write(key, text);
  }

  remove(key: string): void {
    this.kv.remove(key);
  }

  /** Removes every setting but those in `keep`. */
  wipe(keep: readonly string[]): void {
    for (const key of this.kv.keys()) if (keep.indexOf(key) < 0) this.kv.remove(key);
  }
}
