// Everything a Kasa method may use: built once by createPlug, handed to every method call.

import type { LogPort, RestartPort, TimerHandle, TimerPort, WifiPort } from "../../ports/ports.js";
import type { Countdown } from "../rules/countdown.js";
import type { Device } from "../device/device.js";
import type { KlapOwner } from "../klap/owner.js";
import type { Updater } from "../update/updater.js";
import type { EnergyStats } from "../energy/energy.js";
import type { Onboarding } from "../onboarding/onboarding.js";
import type { Personality } from "../device/personality.js";
import type { PresenceLock } from "../device/presence.js";
import type { RuleTable } from "../rules/rules.js";
import type { RuntimeStats } from "../rules/runtime-stats.js";
import type { Scheduler } from "../rules/scheduler.js";
import type { Settings } from "../storage/settings.js";
import type { WallClock } from "../time/clock.js";

/** How the plug restarts (createPlug's assembled plug): what is pending reaches flash first. */
export interface PlugRestart extends RestartPort {
  /** Wipes settings (identity kept) and restarts, as system.reset does. */
  factoryReset(): void;
}

export interface PlugContext {
  readonly personality: Personality;
  readonly device: Device;
  readonly settings: Settings;
  readonly clock: WallClock;
  readonly wifi: WifiPort;
  /** The Wi-Fi state machine: set_stainfo hands it new credentials. */
  readonly onboarding: Onboarding;
  readonly timers: TimerPort;
  readonly restart: PlugRestart;
  readonly log: LogPort;
  /** The rule tables of schedule and anti_theft (count_down's is in `countdown`). */
  readonly rules: { readonly schedule: RuleTable; readonly antiTheft: RuleTable };
  /** Runs the rules; knows the next action and the active mode. */
  readonly scheduler: Scheduler;
  readonly countdown: Countdown;
  /** Minutes on per day and month. */
  readonly stats: RuntimeStats;
  /** Energy totals, statistics and calibration: on metering personalities only (with or without a meter chip). */
  readonly energy: EnergyStats | undefined;
  /** Whether commands that can take the plug from its owner are open now (the unlock gesture, for one command: presence.ts). */
  readonly presence: PresenceLock;
  /** The owner's KLAP credentials: only in the secure and both modes (cnCloud.bind sets them; absent in legacy mode). */
  readonly owner?: KlapOwner;
  /** Signed updates and the running firmware's version (update/updater.ts): made by createPlug. */
  readonly updater?: Updater;
  /** The one delayed reboot or reset waiting to happen (system.reboot/reset with a delay): a new one replaces it. */
  delayedRestart: TimerHandle | undefined;
}
