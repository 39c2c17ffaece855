// The count_down timer (PROTOCOL §2.6, §5.2): one rule; while it is enabled the relay switches
// `delay` seconds after the rule was (re)armed, once, and the rule is then disabled. The end is
// kept in settings as UTC seconds, so a restart resumes it once the time is known again, and one
// that ended while the plug was off switches as soon as the time is known.

import type { LogPort, TimerHandle, TimerPort } from "../../ports/ports.js";
import type { MethodResult } from "../protocol/dispatcher.js";
import type { Device } from "../device/device.js";
import type { KasaError } from "../protocol/errors.js";
import { flag, int, type Params } from "../protocol/params.js";
import { readName, type RuleKind, type RuleList, type RuleTable, ruleKind } from "./rules.js";
import { KEY, type Settings } from "../storage/settings.js";
import type { WallClock } from "../time/clock.js";

/** Longest countdown accepted, seconds (one day). */
export const MAX_COUNTDOWN_SECONDS = 86400;

export function readCountdownRule(params: Params): { [field: string]: unknown } | undefined {
  const name = readName(params);
  const enable = flag(params.enable);
  const delay = int(params.delay, 1, MAX_COUNTDOWN_SECONDS);
  const act = flag(params.act);
  if (name === undefined || enable === undefined || delay === undefined || act === undefined) return undefined;
  return { name, enable, delay, act };
}

export const COUNTDOWN_RULES: RuleKind = ruleKind(KEY.countdownRule, 1, readCountdownRule, [
  ["enable", 0, 1],
  ["delay", 1, MAX_COUNTDOWN_SECONDS],
  ["act", 0, 1],
]);

export class Countdown {
  private timer: TimerHandle | undefined;
  /** When the running countdown ends, UTC ms; Infinity when none runs. */
  private end = Infinity;
  /** The running countdown's end on the monotonic clock (immune to clock corrections). */
  private endMono = 0;

  constructor(
    readonly table: RuleTable,
    private readonly device: Device,
    private readonly clock: WallClock,
    private readonly monotonic: () => number,
    private readonly timers: TimerPort,
    private readonly settings: Settings,
    private readonly log: LogPort,
  ) {}

  running(): boolean {
    return this.end < Infinity;
  }

  endsAt(): number {
    return this.end;
  }

  /** get_rules: the rule with `remain`, the seconds left (the whole delay while it is not running). */
  list(): RuleList {
    // taken once: both passes of the answer writer must see the same number
    return this.table.list(undefined, undefined, this.running() ? Math.max(0, Math.ceil((this.endMono - this.monotonic()) / 1000)) : -1);
  }

  // The table's change first, then rearmed: a call waiting for its argument would sit on the XS stack
  // under the table's settings write, the deepest point of a request.

  add(params: Params): MethodResult | KasaError {
    const result = this.table.add(params);
    return this.rearmed(result);
  }

  edit(params: Params): MethodResult | KasaError {
    const result = this.table.edit(params);
    return this.rearmed(result);
  }

  remove(params: Params): MethodResult | KasaError {
    const result = this.table.remove(params);
    return this.rearmed(result);
  }

  clear(): MethodResult | KasaError {
    const result = this.table.clear();
    return this.rearmed(result);
  }

  /** The time is known again after a restart: a countdown that was running resumes, or switches now if it ended meanwhile. */
  resume(now: number): void {
    if (this.running()) return; // armed since the boot: nothing to resume
    const endSec = this.settings.int(KEY.countdownEnd, 0, 0xffffffff, -1);
    if (this.table.size === 0 || this.table.field(0, "enable") !== 1 || endSec < 0) {
      if (endSec >= 0) this.settings.remove(KEY.countdownEnd);
      return;
    }
    const left = endSec * 1000 - now;
    this.log(left > 0 ? `countdown resumes: ${Math.ceil(left / 1000)} s left` : "countdown ended while the plug was off");
    this.run(Math.max(left, 0));
  }

  stop(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
  }

  /** After a successful change: the enabled rule runs its whole delay from now; otherwise nothing runs. */
  private rearmed(result: MethodResult | KasaError): MethodResult | KasaError {
    if (typeof result.err_code === "number" && result.err_code !== 0) return result;
    this.stop();
    this.end = Infinity;
    const rule = this.table.size > 0 ? this.table.fields(0) : undefined;
    if (rule === undefined || rule.enable !== 1) {
      this.settings.remove(KEY.countdownEnd);
      return result;
    }
    const ms = rule.delay * 1000;
    this.settings.put(KEY.countdownEnd, Math.ceil((this.clock.utcMs() + ms) / 1000));
    this.run(ms);
    return result;
  }

  private run(ms: number): void {
    this.stop();
    this.end = this.clock.utcMs() + ms;
    this.endMono = this.monotonic() + ms;
    this.timer = this.timers.after(ms, this);
  }

  /** Its one timer (a TimerTarget). */
  fired(): void {
    this.fire();
  }

  private fire(): void {
    this.timer = undefined;
    this.end = Infinity;
    this.settings.remove(KEY.countdownEnd);
    if (this.table.size === 0) return;
    const on = this.table.field(0, "act") === 1;
    this.log(`countdown ended: relay ${on ? "on" : "off"}`);
    this.device.setRelay(on);
    this.table.update(0, "enable", 0);
  }
}
