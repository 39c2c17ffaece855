// Everything a Kasa method may use: built once by createPlug, handed to every method call.

import type { LogPort, RestartPort, TimerPort, WifiPort } from "../ports/ports.js";
import type { Device } from "./device.js";
import type { Onboarding } from "./onboarding/onboarding.js";
import type { Personality } from "./personality.js";
import type { RuleTable } from "./rules.js";
import type { Settings } from "./settings.js";
import type { WallClock } from "./time/clock.js";

export interface PlugContext {
  readonly personality: Personality;
  readonly device: Device;
  readonly settings: Settings;
  readonly clock: WallClock;
  readonly wifi: WifiPort;
  /** The Wi-Fi state machine: set_stainfo hands it new credentials. */
  readonly onboarding: Onboarding;
  readonly timers: TimerPort;
  readonly restart: RestartPort;
  readonly log: LogPort;
  /** The rule tables of schedule, count_down and anti_theft. */
  readonly rules: { readonly schedule: RuleTable; readonly countDown: RuleTable; readonly antiTheft: RuleTable };
  /** Wipes settings (identity kept) and restarts, as system.reset does. */
  factoryReset(): void;
}
