// The switch itself: relay state, LED setting, names and location. It owns its restore policy (as an
// ESPHome switch does): the relay comes back after a restart the way `powerOn` says. Relay changes
// reach flash RELAY_SAVE_DELAY_MS after the last one, so a toggle storm costs one write, not one each.

import type { ClockPort, RelayPort, TimerHandle, TimerPort } from "../ports/ports.js";
import type { Identity } from "./identity.js";
import { macSuffix } from "./identity.js";
import type { Personality } from "./personality.js";
import { KEY, Settings } from "./settings.js";
import { RELAY_SAVE_DELAY_MS } from "./timing.js";

/**
 * What the relay does at power-on: Kasa plugs restore the last state. "schedule" restores the last
 * state too, then, once the time is known, applies the last schedule action due today (scheduler.ts).
 */
export type PowerOnPolicy = "last" | "on" | "off" | "schedule";

export interface DeviceOptions {
  powerOn?: PowerOnPolicy;
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
  /** Called after the relay or the LED setting changed (the status LED follows). */
  onChange: () => void = () => {};
  private saveTimer: TimerHandle | undefined;
  readonly powerOn: PowerOnPolicy;

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
    const policy = options.powerOn ?? "last";
    this.powerOn = policy;
    const on = policy === "on" ? true : policy === "off" ? false : settings.int(KEY.relay, 0, 1, 0) === 1;
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

  setRelay(on: boolean): void {
    if (on === this.relay) return;
    this.relay = on;
    if (on) this.onSince = this.clock.monotonic();
    this.relayPort.set(on);
    this.timers.cancel(this.saveTimer);
    this.saveTimer = this.timers.after(RELAY_SAVE_DELAY_MS, () => this.saveRelay());
    this.onChange();
  }

  /** Writes a relay change still waiting for its delay (before a restart, a reset or a stop). */
  saveRelay(): void {
    this.timers.cancel(this.saveTimer);
    this.saveTimer = undefined;
    this.settings.put(KEY.relay, this.relay ? 1 : 0); // the store skips a value it already holds
  }

  toggle(): void {
    this.setRelay(!this.relay);
  }

  setLedOff(off: 0 | 1): boolean {
    if (!this.settings.put(KEY.ledOff, off)) return false;
    this.ledOff = off;
    this.onChange();
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
