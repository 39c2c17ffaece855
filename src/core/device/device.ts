// The switch itself: relay state, LED setting, names and location. It owns its restore policy (as an
// ESPHome switch does): the relay comes back after a restart the way `powerOn` says. Relay changes
// reach the settings RELAY_SAVE_DELAY_MS after the last one, so a toggle storm costs one write, not
// one each (and flash after the settings' own write delay, settings.ts).
// It also owns the relay's flood guard: at most `relayChanges` changes in any `relayWindowMs` and
// never two within `relayGapMs`; a change beyond that waits, and the last state asked for wins.

import type { ClockPort, LogPort, RelayPort, TimerHandle, TimerPort } from "../../ports/ports.js";
import type { Identity } from "./identity.js";
import { macSuffix } from "./identity.js";
import { DEVICE_LIMITS, type Limits } from "../limits.js";
import type { Personality } from "./personality.js";
import { KEY, Settings } from "../storage/settings.js";
import { RELAY_SAVE_DELAY_MS } from "../timing.js";

/**
 * What the relay does at power-on: Kasa plugs restore the last state. "schedule" restores the last
 * state too, then, once the time is known, applies the last schedule action due today (scheduler.ts).
 */
export type PowerOnPolicy = "last" | "on" | "off" | "schedule";

export interface DeviceOptions {
  powerOn?: PowerOnPolicy;
  /** The relay flood guard's bounds (default: DEVICE_LIMITS). */
  limits?: Pick<Limits, "relayChanges" | "relayWindowMs" | "relayGapMs">;
  log?: LogPort;
}

/** What hears of the device's changes: an object, not a function, so that the plug's wiring can be a class (plug.ts). */
export interface DeviceListener {
  /** The relay or the LED setting changed (the status LED follows). */
  deviceChanged(): void;
}

export class Device {
  relay = false;
  /** Monotonic ms when the relay last switched on. */
  private onSince = 0;
  ledOff: 0 | 1 = 0;
  alias: string;
  /** Degrees x 10 000, as the `_i` sysinfo fields carry them. */
  latitudeI = 0;
  longitudeI = 0;
  iconHash = "";
  listener: DeviceListener | undefined;
  private saveTimer: TimerHandle | undefined;
  readonly powerOn: PowerOnPolicy;
  /** This boot follows an update's restart: the relay came back as it was, the power-on policy not applied. */
  readonly kept: boolean;
  private readonly guard: Pick<Limits, "relayChanges" | "relayWindowMs" | "relayGapMs">;
  private readonly log: LogPort;
  /** When the last `relayChanges` changes happened (monotonic ms), a ring; `ring[next]` is the oldest. */
  private readonly ring: Float64Array;
  private next = 0;
  /** The state asked for while the flood guard holds the relay (null: none waiting). */
  private wanted: boolean | null = null;
  private holdTimer: TimerHandle | undefined;

  constructor(
    readonly personality: Personality,
    readonly identity: Identity,
    private readonly settings: Settings,
    private readonly relayPort: RelayPort,
    private readonly clock: ClockPort,
    private readonly timers: TimerPort,
    options: DeviceOptions = {},
  ) {
    this.alias = settings.text(KEY.alias, Device.defaultAlias(identity.mac));
    this.ledOff = settings.int(KEY.ledOff, 0, 1, 0) as 0 | 1;
    this.latitudeI = settings.int(KEY.latitude, -900000, 900000, 0);
    this.longitudeI = settings.int(KEY.longitude, -1800000, 1800000, 0);
    this.iconHash = settings.text(KEY.iconHash, "");
    this.guard = options.limits ?? DEVICE_LIMITS;
    this.log = options.log ?? (() => {});
    this.ring = new Float64Array(this.guard.relayChanges).fill(-Infinity);
    const policy = options.powerOn ?? "last";
    this.powerOn = policy;
    // An update's restart (update/updater.ts) keeps the relay as it was, whatever the policy: once.
    const kept = settings.int(KEY.keepRelay, 0, 1, 0) === 1;
    if (kept) settings.remove(KEY.keepRelay);
    this.kept = kept;
    const on = kept ? settings.int(KEY.relay, 0, 1, 0) === 1 : policy === "on" ? true : policy === "off" ? false : settings.int(KEY.relay, 0, 1, 0) === 1;
    this.relay = on;
    this.onSince = clock.monotonic();
    relayPort.set(on);
  }

  /** "TP-LINK_Smart Plug_XXXX": the factory alias and the setup network's name (PROTOCOL §4). */
  static defaultAlias(mac: string): string {
    return "TP-LINK_Smart Plug_" + macSuffix(mac);
  }

  /** Seconds the relay has been on; 0 while off. */
  onTime(): number {
    return this.relay ? Math.floor((this.clock.monotonic() - this.onSince) / 1000) : 0;
  }

  /**
   * Asks for a relay state: applied now, or as soon as the flood guard allows (the last asked wins).
   * One frame, no helper under it: rules switch the relay from under the scheduler, and what a change
   * sets off (statistics, a settings write) runs below this frame on a 256-slot stack.
   */
  setRelay(on: boolean): void {
    if (this.holdTimer !== undefined) {
      this.wanted = on;
      return;
    }
    if (on === this.relay) return;
    const wait = this.guardWait();
    if (wait > 0) {
      this.wanted = on;
      this.holdTimer = this.timers.after(wait, this);
      this.log(`relay flood guard: over ${this.guard.relayChanges} changes in ${this.guard.relayWindowMs / 1000} s, next change in ${wait} ms`);
      return;
    }
    this.ring[this.next] = this.clock.monotonic();
    this.next = (this.next + 1) % this.ring.length;
    this.relay = on;
    if (on) this.onSince = this.clock.monotonic();
    this.relayPort.set(on);
    this.timers.cancel(this.saveTimer);
    this.saveTimer = this.timers.after(RELAY_SAVE_DELAY_MS, this);
    this.listener?.deviceChanged();
  }

  /** Its timers (a TimerTarget): the flood guard's hold, or the relay state's delayed save. */
  fired(handle: TimerHandle): void {
    if (handle === this.holdTimer) this.release();
    else if (handle === this.saveTimer) this.saveRelay();
  }

  /** The state the relay is on its way to: the held one, else the current one. */
  get target(): boolean {
    return this.wanted ?? this.relay;
  }

  /** Milliseconds until the guard allows a change (0: now). */
  private guardWait(): number {
    const now = this.clock.monotonic();
    const last = this.ring[(this.next + this.ring.length - 1) % this.ring.length];
    const wait = Math.max(last + this.guard.relayGapMs - now, this.ring[this.next] + this.guard.relayWindowMs - now);
    return wait > 0 ? Math.ceil(wait) : 0;
  }

  private release(): void {
    this.holdTimer = undefined;
    const on = this.wanted;
    this.wanted = null;
    if (on !== null) this.setRelay(on);
  }

  /** Writes a relay change still waiting for its delay (before a restart, a reset or a stop). */
  saveRelay(): void {
    this.timers.cancel(this.saveTimer);
    this.saveTimer = undefined;
    this.settings.put(KEY.relay, this.relay ? 1 : 0); // the store skips a value it already holds
  }

  /** Drops a change the flood guard holds (the plug stops). */
  stop(): void {
    this.timers.cancel(this.holdTimer);
    this.holdTimer = undefined;
    this.wanted = null;
  }

  /** Switches to the other state than the one the relay is on its way to. */
  toggle(): void {
    this.setRelay(!this.target);
  }

  setLedOff(off: 0 | 1): boolean {
    if (!this.settings.put(KEY.ledOff, off)) return false;
    this.ledOff = off;
    this.listener?.deviceChanged();
    return true;
  }

  setAlias(alias: string): boolean {
    if (!this.settings.put(KEY.alias, alias)) return false;
    this.alias = alias;
    return true;
  }

  setLocation(latitudeI: number, longitudeI: number): boolean {
    if (!this.settings.put(KEY.latitude, latitudeI) || !this.settings.put(KEY.longitude, longitudeI)) return false;
    this.latitudeI = latitudeI;
    this.longitudeI = longitudeI;
    return true;
  }

  setIconHash(hash: string): boolean {
    if (!this.settings.put(KEY.iconHash, hash)) return false;
    this.iconHash = hash;
    return true;
  }
}
