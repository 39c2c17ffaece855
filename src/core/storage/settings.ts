// Persistent settings over the platform's key-value port, through a SafeStore (safe-store.ts) so that
// a power cut never loses or garbles one. Every key and its bounds are in this one table; a stored value that is
// missing, corrupt or out of bounds reads as the default, never as garbage.
//
// Flash wears with every write, and a client can ask for changes as fast as it likes. So, in a plug,
// a change reaches flash SETTINGS_SAVE_DELAY_MS after the setting's last change (a storm of changes
// to one setting makes one write; at most SETTINGS_SAVE_MAX_DELAY_MS after the first one waiting),
// and at most `settingsWritesPerHour` writes (limits.ts) reach flash in any budget window: beyond
// that, changes wait in RAM, the last value of each setting winning, and reads see them at once.
// Whatever waits is written before a restart, a reset or a stop (`flush`); only a power cut loses it.
// What waits is at most MAX_PENDING_SETTINGS settings (their keys are the fixed KEY names, never names
// from input); a change to another setting while that many wait and the budget is spent is refused
// (`put` returns false: the caller keeps its old state and answers as for a full store).

import type { ClockPort, KeyValuePort, LogPort, TimerPort, TimerTarget } from "../../ports/ports.js";
import { checked, SAFE_VALUE_BYTES, SPARE, type SafeStore } from "./safe-store.js";
import { SETTINGS_BUDGET_WINDOW_MS, SETTINGS_SAVE_DELAY_MS, SETTINGS_SAVE_MAX_DELAY_MS } from "../timing.js";
import { utf8Length } from "../protocol/wire/utf8.js";

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
  /** The owner's KLAP credentials: their v1 auth hash, 32 hex digits (klap/owner.ts); a factory reset wipes it. */
  ownerHash: "owner_hash",
  /**
   * Left by an update's restart (update/updater.ts), read and removed at the next boot: the relay
   * comes back as it was (KEY.relay) whatever the power-on policy, so an update does not switch the load.
   */
  keepRelay: "keep_relay",
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

/** Settings changes that can wait for flash at once (settings.ts). */
export const MAX_PENDING_SETTINGS = 6;

/**
 * A waiting removal: longer than any setting's value, so that `int` and `text` read it as absent
 * (their fallback) with no test of their own. One string, in flash with the module.
 */
const REMOVED = "(removed)----------------------------------------------------------";

/** What deferred writes need: the plug's ports object itself (PlugPorts has these), one reference. */
export interface SettingsPorts {
  readonly timers: TimerPort;
  readonly clock: ClockPort;
  readonly log: LogPort;
}

export class Settings implements TimerTarget {
  /** The platform's store under the SafeStore: `int` and `text` read its two slots themselves. */
  private readonly raw: KeyValuePort;
  /**
   * What waits for flash: when the first of them started waiting (monotonic ms), then key and value
   * pairs (REMOVED for a removal). Undefined when nothing waits (the array is dropped), null while
   * every change is written at once (`direct`).
   */
  private pending: (string | number)[] | undefined | null = undefined;
  private timer: unknown = undefined;
  /** The write budget: when its window started (monotonic ms) and the writes made in it. */
  private windowStart = -Infinity;
  private used = 0;

  /** Without `ports` every change is written at once (tools and tests that open a store alone). */
  constructor(
    private readonly kv: SafeStore,
    private readonly ports?: SettingsPorts,
    private readonly perHour = 0,
  ) {
    this.raw = kv.raw;
  }

  // int and text do what SafeStore.read does, inline: a call less on the deepest stack of the boot,
  // which reads every setting with a few of the ESP8266's 256 stack slots to spare (docs/MEMORY.md).
  // In the memory check's simulator the boot peaked at 247 slots before the SafeStore, 263 with
  // reads through SafeStore.read (its frame alone is 14), 250 like this. Two statements per read, so
  // that no half-made call waits on the stack during the platform's read.

  int(key: string, min: number, max: number, fallback: number): number {
    let raw = this.pending ? this.waiting(key) : undefined;
    if (raw === undefined) {
      raw = this.raw.read(key);
      raw = checked(key, raw);
    }
    if (raw === undefined) {
      raw = this.raw.read(key + SPARE);
      raw = checked(key, raw);
    }
    if (raw === undefined || raw.length === 0 || raw.length > 12) return fallback;
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max ? value : fallback;
  }

  text(key: string, fallback: string): string {
    let raw = this.pending ? this.waiting(key) : undefined;
    if (raw === undefined) {
      raw = this.raw.read(key);
      raw = checked(key, raw);
    }
    if (raw === undefined) {
      raw = this.raw.read(key + SPARE);
      raw = checked(key, raw);
    }
    return raw === undefined || utf8Length(raw) > MAX_VALUE_BYTES ? fallback : raw;
  }

  /**
   * Stores a value (nothing is written when it is already stored): at once, or once the write delay
   * and budget allow (above); reads see it at once. False when it is too long, or when the budget is
   * spent and MAX_PENDING_SETTINGS other settings wait: the caller keeps the old state.
   */
  put(key: string, value: string | number): boolean {
    const text = typeof value === "number" ? String(value) : value;
    if (utf8Length(text) > MAX_VALUE_BYTES) return false;
    return this.ports === undefined || this.pending === null ? this.kv.write(key, text) : this.defer(key, text);
  }

  remove(key: string): void {
    // a removal that cannot wait is made at once: only a setting written before can be removed, so
    // removals never outnumber the writes the budget let through
    if (this.ports === undefined || this.pending === null || !this.defer(key, REMOVED)) this.kv.remove(key);
  }

  /** Removes every setting but those in `keep`, at once (what waits for the others is dropped). */
  wipe(keep: readonly string[]): void {
    const pending = this.pending;
    if (pending) for (let i = pending.length - 2; i >= 1; i -= 2) if (keep.indexOf(pending[i] as string) < 0) pending.splice(i, 2);
    this.flush();
    for (const key of this.kv.keys()) if (keep.indexOf(key) < 0) this.kv.remove(key);
  }

  /** Writes every change that waits, whatever the budget (before a restart, a reset or a stop). */
  flush(): void {
    const pending = this.pending;
    this.ports?.timers.cancel(this.timer);
    this.timer = undefined;
    if (!pending) return;
    this.pending = undefined;
    for (let i = 1; i < pending.length; i += 2) this.writeOut(pending[i] as string, pending[i + 1] as string);
  }

  /** While on, every change is written at once (the plug's own last writes before it restarts or stops); `flush` first. */
  direct(on: boolean): void {
    if (on) this.flush();
    this.pending = on ? null : undefined;
  }

  /** The write timer (a TimerTarget): what waits is written as far as the budget allows; the rest waits for the next window. */
  fired(): void {
    this.timer = undefined;
    const pending = this.pending;
    if (!pending) return;
    while (pending.length > 1 && this.spend()) {
      const key = pending[1] as string;
      const value = pending[2] as string;
      pending.splice(1, 2);
      this.writeOut(key, value);
    }
    if (pending.length > 1) this.arm(pending);
    else this.pending = undefined;
  }

  /** The value waiting for `key` (REMOVED for a removal), else undefined. */
  private waiting(key: string): string | undefined {
    const pending = this.pending!;
    for (let i = 1; i < pending.length; i += 2) if (pending[i] === key) return pending[i + 1] as string;
    return undefined;
  }

  /** Makes `key`'s change wait (replacing one that waits); false when it cannot (above). */
  private defer(key: string, text: string): boolean {
    let pending = this.pending;
    if (pending) {
      for (let i = 1; i < pending.length; i += 2) {
        if (pending[i] !== key) continue;
        pending[i + 1] = text;
        this.arm(pending);
        return true;
      }
    }
    if (this.kv.read(key) === (text === REMOVED ? undefined : text)) return true; // stored already
    if (!pending) pending = this.pending = [this.ports!.clock.monotonic()];
    else if (pending.length >= 1 + 2 * MAX_PENDING_SETTINGS) {
      if (!this.spend()) return false;
      const oldKey = pending[1] as string;
      const oldValue = pending[2] as string;
      pending.splice(1, 2);
      this.writeOut(oldKey, oldValue);
    }
    pending.push(key, text);
    this.arm(pending);
    return true;
  }

  /** (Re)sets the write timer: after the quiet delay, the longest wait or the budget's next window, whichever is latest of the first two's earliest. */
  private arm(pending: (string | number)[]): void {
    const ports = this.ports!;
    const now = ports.clock.monotonic();
    let at = Math.min(now + SETTINGS_SAVE_DELAY_MS, (pending[0] as number) + SETTINGS_SAVE_MAX_DELAY_MS);
    if (this.used >= this.perHour && now - this.windowStart < SETTINGS_BUDGET_WINDOW_MS) at = Math.max(at, this.windowStart + SETTINGS_BUDGET_WINDOW_MS);
    ports.timers.cancel(this.timer);
    this.timer = ports.timers.after(Math.max(0, at - now), this);
  }

  /** Takes one write from the budget; false when the window's are spent. */
  private spend(): boolean {
    const now = this.ports!.clock.monotonic();
    if (now - this.windowStart >= SETTINGS_BUDGET_WINDOW_MS) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.perHour) return false;
    this.used++;
    return true;
  }

  private writeOut(key: string, value: string): void {
    if (value === REMOVED) this.kv.remove(key);
    else if (!this.kv.write(key, value)) this.ports?.log(`settings: ${key} could not be stored (the store is full or failing)`);
  }
}
