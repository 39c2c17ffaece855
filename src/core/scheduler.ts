// Runs the plug's rules on the plug itself, from its own clock (PROTOCOL §5): schedule rules switch
// the relay on their minute, away mode switches it at random inside its window, and the next action
// is known for sysinfo. The count_down timer has its own file (countdown.ts).
//
// Rule times are turned into instants (UTC ms) per local date, so DST needs no special case: a
// minute skipped by spring-forward maps past the gap (02:30 → 03:30), a repeated one to its first
// occurrence, and each rule keeps its next instant, which fires once and is then replaced by the
// one after it. Nothing runs until a time source answered (WallClock.synced).

import type { LogPort, RandomPort, TimerHandle, TimerPort } from "../ports/ports.js";
import type { Countdown } from "./countdown.js";
import type { Device } from "./device.js";
import type { Rule, RuleTable } from "./rules.js";
import type { RuntimeStats } from "./runtime-stats.js";
import { KEY, type Settings } from "./settings.js";
import { civilFromDays, daysFromCivil, MS_PER_DAY, weekday } from "./time/civil.js";
import type { WallClock } from "./time/clock.js";
import { SUN_NONE, sunEventUtcMinutes } from "./time/sun.js";
import { SCHEDULE_CATCH_UP_MS, SCHEDULER_TICK_MS } from "./timing.js";

const MS_PER_MIN = 60000;
/** How far ahead a weekly rule's next instant is looked for (a week and the day either side). */
const DAYS_AHEAD = 8;

/** A rule's next switching: when, on or off, and whether it is its start or its end. */
interface Occurrence {
  at: number;
  action: number;
}

/** An away-mode window in progress. */
interface AwayWindow {
  id: string;
  end: number;
  /** The relay before the window: restored at its end. */
  before: boolean;
  toggle: number;
}

export class Scheduler {
  private timer: TimerHandle | undefined;
  /** Each schedule rule's next switching, parallel to the table; null: none within DAYS_AHEAD. */
  private next: (Occurrence | null)[] = [];
  private dirty = true;
  private known = false;
  private lastUtc = 0;
  private clockChanges = -1;
  private away: AwayWindow | undefined;
  /** A window's stored "before" state not yet looked at since boot. */
  private awayUnchecked = true;
  private awayNextStart = Infinity;
  /** Sunrise and sunset in UTC minutes of their day, cached per local day and place. */
  private sunDay = NaN;
  private sunLatI = NaN;
  private sunLonI = NaN;
  private readonly sunTimes = new Int32Array((DAYS_AHEAD + 3) * 2);
  /** Today's sunrise and sunset as local minutes of the day (-1: none), for get_rules. */
  private readonly sunToday = new Int16Array([-1, -1]);
  /** The time is known for the first time since boot (power-on policy "schedule", the countdown). */
  onTimeKnown: (now: number) => void = () => {};

  constructor(
    private readonly clock: WallClock,
    private readonly timers: TimerPort,
    private readonly device: Device,
    private readonly schedule: RuleTable,
    private readonly awayRules: RuleTable,
    private readonly countdown: Countdown,
    private readonly stats: RuntimeStats,
    private readonly settings: Settings,
    private readonly random: RandomPort,
    private readonly log: LogPort,
  ) {}

  /** The first look comes from the timer, not from inside the boot's deep call stack. */
  start(): void {
    this.timer = this.timers.after(0, () => this.tick());
  }

  stop(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
  }

  /** Rules or the place changed: look again at once, outside the request that changed them. */
  changed(): void {
    this.dirty = true;
    this.timers.cancel(this.timer);
    this.timer = this.timers.after(0, () => this.tick());
  }

  /** sysinfo `active_mode`: what is in charge of the relay. */
  activeMode(): string {
    if (this.countdown.running()) return "count_down";
    if (this.awayRules.enable === 1 && hasEnabled(this.awayRules.all)) return "anti_theft";
    if (this.schedule.enable === 1 && hasEnabled(this.schedule.all)) return "schedule";
    return "none";
  }

  /**
   * The next switching (sysinfo `next_action` with `schd_sec`, get_next_action with `schd_time`):
   * type 1 a schedule rule, 2 the countdown, -1 none; the time is seconds after local midnight.
   */
  nextAction(field: "schd_sec" | "schd_time"): { [key: string]: unknown } {
    if (!this.known) return { type: -1 };
    let at = this.countdown.endsAt();
    let type = at < Infinity ? 2 : -1;
    let id = type === 2 ? this.countdown.id() : "";
    let action = type === 2 ? this.countdown.action() : -1;
    const rules = this.schedule.all;
    for (let i = 0; i < this.next.length && i < rules.length; i++) {
      const n = this.next[i];
      if (n !== null && n.at < at) {
        at = n.at;
        type = 1;
        id = rules[i].id;
        action = n.action;
      }
    }
    if (type < 0) return { type: -1 };
    const local = this.clock.toLocalMs(at);
    const out: { [key: string]: unknown } = { type, id };
    out[field] = Math.floor((local - Math.floor(local / MS_PER_DAY) * MS_PER_DAY) / 1000);
    out.action = action;
    return out;
  }

  /** Today's sunrise (1) or sunset (2) plus `offset` as a minute of the local day; -1 when unknown or none. */
  sunMinuteToday(event: 1 | 2, offset: number): number {
    const m = this.sunToday[event - 1];
    return m < 0 ? -1 : (((m + offset) % 1440) + 1440) % 1440;
  }

  private tick(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
    this.stats.account();
    if (!this.clock.synced()) {
      this.timer = this.timers.after(SCHEDULER_TICK_MS, () => this.tick());
      return;
    }
    const now = this.clock.utcMs();
    if (!this.known) {
      this.known = true;
      this.dirty = true;
      this.onTimeKnown(now);
    }
    if (this.dirty || this.clock.changes !== this.clockChanges || now < this.lastUtc) {
      // set_time, a zone change or a clock set back: what comes next is recomputed, nothing is caught up
      this.recompute(now);
    } else {
      this.runDue(now);
    }
    this.runAway(now);
    this.lastUtc = now;
    this.stats.flushIfDue();

    let wake = now + SCHEDULER_TICK_MS - (now % SCHEDULER_TICK_MS);
    for (let i = 0; i < this.next.length; i++) {
      const n = this.next[i];
      if (n !== null && n.at < wake) wake = n.at;
    }
    if (this.away !== undefined) wake = Math.min(wake, this.away.toggle, this.away.end);
    else wake = Math.min(wake, this.awayNextStart);
    this.timers.cancel(this.timer); // a rule change during this tick asked for another
    this.timer = this.timers.after(Math.max(wake - now, 10), () => this.tick());
  }

  private recompute(now: number): void {
    this.dirty = false;
    this.clockChanges = this.clock.changes;
    const rules = this.schedule.all;
    this.next = [];
    for (let i = 0; i < rules.length; i++) this.next.push(this.schedule.enable === 1 && rules[i].enable === 1 ? this.nextOf(rules[i], now) : null);
    this.awayNextStart = Infinity;
    const away = this.awayRules.all;
    if (this.awayRules.enable === 1) {
      for (let i = 0; i < away.length; i++) {
        const start = away[i].enable === 1 ? this.nextWindowStart(away[i], now) : Infinity;
        if (start < this.awayNextStart) this.awayNextStart = start;
      }
    }
    const today = this.localDay(now);
    for (let e = 0; e < 2; e++) {
      const m = this.sun(today, e + 1);
      this.sunToday[e] = m === SUN_NONE ? -1 : Math.floor((this.clock.toLocalMs(today * MS_PER_DAY + m * MS_PER_MIN) - today * MS_PER_DAY) / MS_PER_MIN);
    }
  }

  /** Runs the rules whose instant has come: the latest due action wins; one-shot rules that are done are disabled. */
  private runDue(now: number): void {
    const rules = this.schedule.all;
    let latest: Occurrence | null = null;
    let by: Rule | undefined;
    let done: string[] | undefined;
    for (let i = 0; i < this.next.length && i < rules.length; i++) {
      let n = this.next[i];
      for (let guard = 0; n !== null && n.at <= now && guard < 4; guard++) {
        if (now - n.at <= SCHEDULE_CATCH_UP_MS && (latest === null || n.at >= latest.at)) {
          latest = n;
          by = rules[i];
        }
        n = this.nextOf(rules[i], n.at);
        if (n === null && rules[i].repeat === 0) (done ??= []).push(rules[i].id);
      }
      this.next[i] = n;
    }
    if (latest !== null && by !== undefined) {
      this.log(`schedule: rule ${label(by)} switches the relay ${latest.action === 1 ? "on" : "off"}`);
      this.device.setRelay(latest.action === 1);
    }
    // a one-shot rule that ran is disabled, as on real plugs (the table's change recomputes the rest)
    if (done !== undefined) for (let i = 0; i < done.length; i++) this.schedule.update(done[i], "enable", 0);
  }

  /** Away mode: enters a window that has begun, switches at random inside it, and restores the relay at its end. */
  private runAway(now: number): void {
    const w = this.away;
    if (w !== undefined) {
      const rule = findRule(this.awayRules.all, w.id);
      if (now >= w.end || rule === undefined || rule.enable !== 1 || this.awayRules.enable !== 1) {
        this.away = undefined;
        this.settings.remove(KEY.awayBefore);
        this.log(`away mode ends: relay back ${w.before ? "on" : "off"}`);
        this.device.setRelay(w.before);
        if (rule !== undefined && rule.repeat === 0 && now >= w.end) this.awayRules.update(rule.id, "enable", 0);
        this.dirty = true;
        this.recompute(now);
      } else if (now >= w.toggle) {
        this.device.toggle();
        w.toggle = now + this.gap(rule.frequency as number);
      }
      return;
    }
    const rules = this.awayRules.all;
    for (let i = 0; i < rules.length && this.awayRules.enable === 1; i++) {
      if (rules[i].enable !== 1) continue;
      const end = this.windowEndingAfter(rules[i], now);
      if (end === undefined) continue;
      // a restart inside the window keeps what the relay was before it
      const stored = this.settings.int(KEY.awayBefore, 0, 1, -1);
      const before = stored < 0 ? this.device.relay : stored === 1;
      if (stored < 0) this.settings.put(KEY.awayBefore, before ? 1 : 0);
      this.away = { id: rules[i].id, end, before, toggle: now + this.gap(rules[i].frequency as number) };
      this.log(`away mode: rule ${label(rules[i])} switches at random until ${clockText(this.clock.toLocalMs(end))}`);
      return;
    }
    if (this.awayUnchecked) {
      // a window that ended while the plug was off: the relay goes back as it would have
      this.awayUnchecked = false;
      const stored = this.settings.int(KEY.awayBefore, 0, 1, -1);
      if (stored < 0) return;
      this.settings.remove(KEY.awayBefore);
      this.log(`away mode ended while the plug was off: relay back ${stored === 1 ? "on" : "off"}`);
      this.device.setRelay(stored === 1);
    }
  }

  /** Between switchings in away mode: `frequency` switchings an hour on average, each gap 0.5-1.5 times the mean. */
  private gap(frequency: number): number {
    const mean = (60 * MS_PER_MIN) / frequency;
    return Math.round(mean * (0.5 + this.random(1)[0] / 255));
  }

  /** The end of a window of `rule` that contains `now`, or undefined. */
  private windowEndingAfter(rule: Rule, now: number): number | undefined {
    const today = this.localDay(now);
    for (let day = today - 1; day <= today; day++) {
      if (!appliesOn(rule, day)) continue;
      const start = this.instant(day, rule.stime_opt as number, rule.smin as number, 0);
      const end = this.windowEnd(rule, day, start);
      if (start <= now && now < end) return end;
    }
    return undefined;
  }

  private nextWindowStart(rule: Rule, after: number): number {
    const today = this.localDay(after);
    for (let day = today; day <= today + DAYS_AHEAD; day++) {
      if (!appliesOn(rule, day)) continue;
      const start = this.instant(day, rule.stime_opt as number, rule.smin as number, 0);
      if (start > after) return start;
    }
    return Infinity;
  }

  /** A rule's end on `day`, or the next day's when it does not come after `start` (no start: the same day). */
  private windowEnd(rule: Rule, day: number, start: number): number {
    const end = this.instant(day, rule.etime_opt as number, rule.emin as number, 0);
    return end <= start ? this.instant(day + 1, rule.etime_opt as number, rule.emin as number, 0) : end;
  }

  /** A schedule rule's first switching after `after`, or null. */
  private nextOf(rule: Rule, after: number): Occurrence | null {
    let best: Occurrence | null = null;
    const today = this.localDay(after);
    for (let day = today - 1; day <= today + DAYS_AHEAD; day++) {
      if (!appliesOn(rule, day)) continue;
      const start = rule.sact !== -1 ? this.instant(day, rule.stime_opt as number, rule.smin as number, rule.soffset as number) : NaN;
      if (start > after && (best === null || start < best.at)) best = { at: start, action: rule.sact as number };
      if (rule.eact === -1) continue;
      const end = this.windowEnd(rule, day, start);
      if (end > after && (best === null || end < best.at)) best = { at: end, action: rule.eact as number };
    }
    return best;
  }

  /**
   * The latest switching due today up to `now` (power-on policy "schedule"): the action a plug that
   * had been running all day would have taken last; -1 when none.
   */
  lastDueToday(now: number): number {
    if (this.schedule.enable !== 1) return -1;
    const today = this.localDay(now);
    const rules = this.schedule.all;
    let at = -Infinity;
    let action = -1;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule.enable !== 1 || !appliesOn(rule, today)) continue;
      const start = rule.sact !== -1 ? this.instant(today, rule.stime_opt as number, rule.smin as number, rule.soffset as number) : NaN;
      if (start <= now && start > at) {
        at = start;
        action = rule.sact as number;
      }
      const end = rule.eact !== -1 ? this.instant(today, rule.etime_opt as number, rule.emin as number, 0) : NaN;
      if (end > start && end <= now && end > at) {
        at = end;
        action = rule.eact as number;
      }
    }
    return action;
  }

  /** The instant of minute `min` (+ `offset`) on local day `day`: a fixed time, sunrise or sunset; NaN when none. */
  private instant(day: number, opt: number, min: number, offset: number): number {
    if (opt === 0) return this.clock.toUtc(day * MS_PER_DAY + (min + offset) * MS_PER_MIN);
    if (opt !== 1 && opt !== 2) return NaN;
    const m = this.sun(day, opt);
    return m === SUN_NONE ? NaN : day * MS_PER_DAY + (m + offset) * MS_PER_MIN;
  }

  /** Sunrise (1) or sunset (2) on local day `day` at the plug's place, UTC minutes of that date. */
  private sun(day: number, event: number): number {
    if (this.device.latitudeI !== this.sunLatI || this.device.longitudeI !== this.sunLonI) {
      this.sunLatI = this.device.latitudeI;
      this.sunLonI = this.device.longitudeI;
      this.sunDay = NaN;
    }
    const index = (day - this.sunDay) * 2 + event - 1;
    if (index >= 0 && index < this.sunTimes.length) return this.sunTimes[index];
    // a fresh window of days from yesterday on: what one recompute asks for
    this.sunDay = day - 1;
    const lat = this.device.latitudeI / 10000;
    const lon = this.device.longitudeI / 10000;
    for (let i = 0; i < this.sunTimes.length; i += 2) {
      const c = civilFromDays(this.sunDay + i / 2);
      this.sunTimes[i] = sunEventUtcMinutes(c.year, c.month, c.day, lat, lon, 1);
      this.sunTimes[i + 1] = sunEventUtcMinutes(c.year, c.month, c.day, lat, lon, 2);
    }
    return this.sunTimes[2 + event - 1];
  }

  private localDay(utc: number): number {
    return Math.floor(this.clock.toLocalMs(utc) / MS_PER_DAY);
  }
}

/** Whether a rule applies on local day `day`: its weekday for weekly rules, its date for one-shot ones. */
function appliesOn(rule: Rule, day: number): boolean {
  if (rule.repeat === 1) return (rule.wday as number[])[weekday(day)] === 1;
  return day === daysFromCivil(rule.year as number, rule.month as number, rule.day as number);
}

function hasEnabled(rules: readonly Rule[]): boolean {
  for (let i = 0; i < rules.length; i++) if (rules[i].enable === 1) return true;
  return false;
}

function findRule(rules: readonly Rule[], id: string): Rule | undefined {
  for (let i = 0; i < rules.length; i++) if (rules[i].id === id) return rules[i];
  return undefined;
}

function label(rule: Rule): string {
  return rule.name === "" ? rule.id : `"${rule.name as string}"`;
}

/** "HH:MM" of wall-clock ms. */
function clockText(localMs: number): string {
  const minutes = Math.floor((localMs - Math.floor(localMs / MS_PER_DAY) * MS_PER_DAY) / MS_PER_MIN);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
}
