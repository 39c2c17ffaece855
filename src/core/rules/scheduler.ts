// Runs the plug's rules on the plug itself, from its own clock (PROTOCOL §5): schedule rules switch
// the relay on their minute, away mode switches it at random inside its window, and the next action
// is known for sysinfo. The count_down timer has its own file (countdown.ts).
//
// Rule times are turned into instants (UTC ms) per local date, so DST needs no special case: a
// minute skipped by spring-forward maps past the gap (02:30 → 03:30), a repeated one to its first
// occurrence, and each rule keeps its next instant, which fires once and is then replaced by the
// one after it. Nothing runs until a time source answered (WallClock.synced).
//
// The rules stay packed in their tables (rules.ts): a rule is decoded into a short-lived object of
// numbers only while it is checked (when due, on a recompute, away mode once a tick). What is kept
// per rule between minutes is one number, its next switching; an away window in progress is one
// small object naming its rule by seed.

import type { LogPort, RandomPort, TimerHandle, TimerPort } from "../../ports/ports.js";
import type { Countdown } from "./countdown.js";
import type { Device } from "../device/device.js";
import type { RuleFields, RuleTable } from "./rules.js";
import type { RuntimeStats } from "./runtime-stats.js";
import { KEY, type Settings } from "../storage/settings.js";
import { civilFromDays, daysFromCivil, MS_PER_DAY, weekday } from "../time/civil.js";
import type { WallClock } from "../time/clock.js";
import { SUN_NONE, sunEventUtcMinutes } from "../time/sun.js";
import { SCHEDULE_CATCH_UP_MS, SCHEDULER_TICK_MS } from "../timing.js";

const MS_PER_MIN = 60000;
/** How far ahead a weekly rule's next instant is looked for (a week and the day either side). */
const DAYS_AHEAD = 8;

/**
 * A rule's next switching as one number, so that what is kept per rule between minutes is a number,
 * not an object: its instant (UTC ms, an integer) times 4, plus its action (-1, 0 or 1: none, off,
 * on) + 1. NONE (Infinity) when there is none; ordered as the instants are.
 */
const NONE = Infinity;

function occurrence(at: number, action: number): number {
  return at * 4 + action + 1;
}

function atOf(next: number): number {
  return Math.floor(next / 4);
}

function actionOf(next: number): number {
  return next - Math.floor(next / 4) * 4 - 1;
}

/** An away-mode window in progress. */
interface AwayWindow {
  /** The rule's seed (what its id is made from): the rule however it is edited or moved in the table. */
  seed: number;
  end: number;
  /** The relay before the window: restored at its end. */
  before: boolean;
  toggle: number;
}

/** What hears of the scheduler: an object, not a function, so that the plug's wiring can be a class (plug.ts). */
export interface SchedulerListener {
  /** The time is known for the first time since boot (power-on policy "schedule", the countdown). */
  timeKnown(now: number): void;
}

export class Scheduler {
  private timer: TimerHandle | undefined;
  /** Each schedule rule's next switching (see `occurrence`), parallel to the table (its first `nextCount`); NONE: none within DAYS_AHEAD. */
  private readonly next: Float64Array;
  private nextCount = 0;
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
  listener: SchedulerListener | undefined;

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
  ) {
    this.next = new Float64Array(schedule.kind.max);
  }

  /** The first look comes from the timer, not from inside the boot's deep call stack. */
  start(): void {
    this.timer = this.timers.after(0, this);
  }

  stop(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
  }

  /** Rules or the place changed: look again at once, outside the request that changed them. */
  changed(): void {
    this.dirty = true;
    this.timers.cancel(this.timer);
    this.timer = this.timers.after(0, this);
  }

  /** sysinfo `active_mode`: what is in charge of the relay. */
  activeMode(): string {
    if (this.countdown.running()) return "count_down";
    if (this.awayRules.enable === 1 && this.awayRules.anyEnabled()) return "anti_theft";
    if (this.schedule.enable === 1 && this.schedule.anyEnabled()) return "schedule";
    return "none";
  }

  /**
   * The next switching (sysinfo `next_action` with `schd_sec`, get_next_action with `schd_time`):
   * type 1 a schedule rule, 2 the countdown, -1 none; the time is seconds after local midnight.
   */
  nextAction(field: "schd_sec" | "schd_time"): { [key: string]: unknown } {
    if (!this.known) return { type: -1 };
    // few locals: this runs under get_sysinfo, on the XS stack of a request
    let at = this.countdown.endsAt();
    let by = -1; // the schedule rule that comes first; -1: the countdown, if it runs
    for (let i = 0; i < this.nextCount && i < this.schedule.size; i++) {
      if (atOf(this.next[i]) < at) {
        at = atOf(this.next[i]);
        by = i;
      }
    }
    if (at === Infinity || (by < 0 && this.countdown.table.size === 0)) return { type: -1 };
    // the countdown's table asked directly, not through Countdown: one call level less
    const out: { [key: string]: unknown } = { type: by >= 0 ? 1 : 2, id: by >= 0 ? this.schedule.idAt(by) : this.countdown.table.idAt(0) };
    const local = this.clock.toLocalMs(at);
    out[field] = Math.floor((local - Math.floor(local / MS_PER_DAY) * MS_PER_DAY) / 1000);
    out.action = by >= 0 ? actionOf(this.next[by]) : this.countdown.table.field(0, "act");
    return out;
  }

  /** Today's sunrise (1) or sunset (2) plus `offset` as a minute of the local day; -1 when unknown or none. */
  sunMinuteToday(event: 1 | 2, offset: number): number {
    const m = this.sunToday[event - 1];
    return m < 0 ? -1 : (((m + offset) % 1440) + 1440) % 1440;
  }

  /** Its one timer (a TimerTarget: no closure per tick). */
  fired(): void {
    this.tick();
  }

  private tick(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
    this.stats.account();
    if (!this.clock.synced()) {
      this.timer = this.timers.after(SCHEDULER_TICK_MS, this);
      return;
    }
    const now = this.clock.utcMs();
    if (!this.known) {
      this.known = true;
      this.dirty = true;
      this.listener?.timeKnown(now);
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
    for (let i = 0; i < this.nextCount; i++) if (atOf(this.next[i]) < wake) wake = atOf(this.next[i]);
    if (this.away !== undefined) wake = Math.min(wake, this.away.toggle, this.away.end);
    else wake = Math.min(wake, this.awayNextStart);
    this.timers.cancel(this.timer); // a rule change during this tick asked for another
    this.timer = this.timers.after(Math.max(wake - now, 10), this);
  }

  private recompute(now: number): void {
    this.dirty = false;
    this.clockChanges = this.clock.changes;
    const table = this.schedule;
    this.nextCount = table.size;
    for (let i = 0; i < this.nextCount; i++) {
      const rule = table.enable === 1 ? table.fields(i) : undefined;
      this.next[i] = rule !== undefined && rule.enable === 1 ? this.nextOf(rule, now) : NONE;
    }
    this.awayNextStart = Infinity;
    const away = this.awayRules;
    if (away.enable === 1) {
      for (let i = 0; i < away.size; i++) {
        const rule = away.fields(i);
        const start = rule.enable === 1 ? this.nextWindowStart(rule, now) : Infinity;
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
    const table = this.schedule;
    let latest = NONE;
    let by = -1;
    let done: number[] | undefined;
    for (let i = 0; i < this.nextCount && i < table.size; i++) {
      let n = this.next[i];
      if (!(atOf(n) <= now)) continue;
      const rule = table.fields(i); // decoded only when due
      for (let guard = 0; atOf(n) <= now && guard < 4; guard++) {
        if (now - atOf(n) <= SCHEDULE_CATCH_UP_MS && (by < 0 || atOf(n) >= atOf(latest))) {
          latest = n;
          by = i;
        }
        n = this.nextOf(rule, atOf(n));
        if (n === NONE && rule.repeat === 0) (done ??= []).push(i);
      }
      this.next[i] = n;
    }
    if (by >= 0) {
      this.log(`schedule: rule ${label(table, by)} switches the relay ${actionOf(latest) === 1 ? "on" : "off"}`);
      this.device.setRelay(actionOf(latest) === 1);
    }
    // a one-shot rule that ran is disabled, as on real plugs (the table's change recomputes the rest;
    // an update moves no rule, so the numbers stay right)
    if (done !== undefined) for (let i = 0; i < done.length; i++) table.update(done[i], "enable", 0);
  }

  /** Away mode: enters a window that has begun, switches at random inside it, and restores the relay at its end. */
  private runAway(now: number): void {
    const w = this.away;
    if (w !== undefined) {
      const at = this.awayRules.indexOfSeed(w.seed);
      const rule = at < 0 ? undefined : this.awayRules.fields(at);
      if (now >= w.end || rule === undefined || rule.enable !== 1 || this.awayRules.enable !== 1) {
        this.away = undefined;
        this.settings.remove(KEY.awayBefore);
        this.log(`away mode ends: relay back ${w.before ? "on" : "off"}`);
        this.device.setRelay(w.before);
        if (rule !== undefined && rule.repeat === 0 && now >= w.end) this.awayRules.update(at, "enable", 0);
        this.dirty = true;
        this.recompute(now);
      } else if (now >= w.toggle) {
        this.device.toggle();
        w.toggle = now + this.gap(rule.frequency);
      }
      return;
    }
    const table = this.awayRules;
    for (let i = 0; i < table.size && table.enable === 1; i++) {
      const rule = table.fields(i);
      if (rule.enable !== 1) continue;
      const end = this.windowEndingAfter(rule, now);
      if (end === undefined) continue;
      // a restart inside the window keeps what the relay was before it
      const stored = this.settings.int(KEY.awayBefore, 0, 1, -1);
      const before = stored < 0 ? this.device.relay : stored === 1;
      if (stored < 0) this.settings.put(KEY.awayBefore, before ? 1 : 0);
      this.away = { seed: table.seedAt(i), end, before, toggle: now + this.gap(rule.frequency) };
      this.log(`away mode: rule ${label(table, i)} switches at random until ${clockText(this.clock.toLocalMs(end))}`);
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
  private windowEndingAfter(rule: RuleFields, now: number): number | undefined {
    const today = this.localDay(now);
    for (let day = today - 1; day <= today; day++) {
      if (!appliesOn(rule, day)) continue;
      const start = this.instant(day, rule.stime_opt, rule.smin, 0);
      const end = this.windowEnd(rule, day, start);
      if (start <= now && now < end) return end;
    }
    return undefined;
  }

  private nextWindowStart(rule: RuleFields, after: number): number {
    const today = this.localDay(after);
    for (let day = today; day <= today + DAYS_AHEAD; day++) {
      if (!appliesOn(rule, day)) continue;
      const start = this.instant(day, rule.stime_opt, rule.smin, 0);
      if (start > after) return start;
    }
    return Infinity;
  }

  /** A rule's end on `day`, or the next day's when it does not come after `start` (no start: the same day). */
  private windowEnd(rule: RuleFields, day: number, start: number): number {
    const end = this.instant(day, rule.etime_opt, rule.emin, 0);
    return end <= start ? this.instant(day + 1, rule.etime_opt, rule.emin, 0) : end;
  }

  /** A schedule rule's first switching after `after` (see `occurrence`), or NONE. */
  private nextOf(rule: RuleFields, after: number): number {
    let at = Infinity;
    let action = -1;
    const today = this.localDay(after);
    for (let day = today - 1; day <= today + DAYS_AHEAD; day++) {
      if (!appliesOn(rule, day)) continue;
      const start = rule.sact !== -1 ? this.instant(day, rule.stime_opt, rule.smin, rule.soffset) : NaN;
      if (start > after && start < at) {
        at = start;
        action = rule.sact;
      }
      if (rule.eact === -1) continue;
      const end = this.windowEnd(rule, day, start);
      if (end > after && end < at) {
        at = end;
        action = rule.eact;
      }
    }
    return at === Infinity ? NONE : occurrence(at, action);
  }

  /**
   * The latest switching due today up to `now` (power-on policy "schedule"): the action a plug that
   * had been running all day would have taken last; -1 when none.
   */
  lastDueToday(now: number): number {
    if (this.schedule.enable !== 1) return -1;
    const today = this.localDay(now);
    const table = this.schedule;
    let at = -Infinity;
    let action = -1;
    for (let i = 0; i < table.size; i++) {
      const rule = table.fields(i);
      if (rule.enable !== 1 || !appliesOn(rule, today)) continue;
      const start = rule.sact !== -1 ? this.instant(today, rule.stime_opt, rule.smin, rule.soffset) : NaN;
      if (start <= now && start > at) {
        at = start;
        action = rule.sact;
      }
      const end = rule.eact !== -1 ? this.instant(today, rule.etime_opt, rule.emin, 0) : NaN;
      if (end > start && end <= now && end > at) {
        at = end;
        action = rule.eact;
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
function appliesOn(rule: RuleFields, day: number): boolean {
  if (rule.repeat === 1) return ((rule.wday >> weekday(day)) & 1) === 1;
  return day === daysFromCivil(rule.year, rule.month, rule.day);
}

/** How the log names rule i: its name, or its id when it has none. */
function label(table: RuleTable, i: number): string {
  const name = table.nameAt(i);
  return name === "" ? table.idAt(i) : `"${name}"`;
}

/** "HH:MM" of wall-clock ms. */
function clockText(localMs: number): string {
  const minutes = Math.floor((localMs - Math.floor(localMs / MS_PER_DAY) * MS_PER_DAY) / MS_PER_MIN);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
}
