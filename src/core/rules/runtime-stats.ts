// Usage statistics (schedule.get_daystat / get_monthstat, PROTOCOL §2.5): minutes the relay was on,
// per local day and per month. Kept in RAM and written to flash at most every
// STATS_SAVE_INTERVAL_MS while they change, and before any restart; nothing is counted until the
// time is known (a minute needs a date).
//
// Retention, within 60-byte settings (an ESP8266 Preference value less its check): daily minutes
// for the current and the two previous calendar months (one setting per month, "rd" + month % 3),
// monthly minutes for the current and the previous year (one per year, "rm" + year % 2).

import type { Device } from "../device/device.js";
import { pack, unpack, type FieldRange } from "../storage/pack.js";
import { KEY, type Settings } from "../storage/settings.js";
import { civilFromDays, daysInMonth, MS_PER_DAY } from "../time/civil.js";
import type { WallClock } from "../time/clock.js";
import { STATS_SAVE_INTERVAL_MS } from "../timing.js";

export const STATS_MONTHS_KEPT = 3;
export const STATS_YEARS_KEPT = 2;
const FIRST_YEAR = 2000;

/** A month's record: months since 2000-01, then 31 days of minutes. */
const MONTH_RANGES: readonly FieldRange[] = monthRanges();
/** A year's record: the year, then 12 months of minutes. */
const YEAR_RANGES: readonly FieldRange[] = yearRanges();

function monthRanges(): readonly FieldRange[] {
  const r: FieldRange[] = [Object.freeze([0, 1199] as const)];
  for (let d = 0; d < 31; d++) r.push(Object.freeze([0, 1440] as const));
  return Object.freeze(r);
}

function yearRanges(): readonly FieldRange[] {
  const r: FieldRange[] = [Object.freeze([FIRST_YEAR, 2099] as const)];
  for (let m = 0; m < 12; m++) r.push(Object.freeze([0, 44640] as const));
  return Object.freeze(r);
}

export class RuntimeStats {
  /** Per slot: [month index, minutes of day 1..31]; undefined when empty. 16-bit: a few bytes, not a slot each. */
  private monthRecords: (Uint16Array | undefined)[] = [];
  /** Per slot: [year, minutes of month 1..12]. */
  private yearRecords: (Uint16Array | undefined)[] = [];
  private dirtyMonth = -1;
  private dirtyYear = -1;
  private lastMono: number;
  private lastFlush: number;
  private wasOn: boolean;
  private carryMs = 0;

  constructor(
    private readonly settings: Settings,
    private readonly clock: WallClock,
    private readonly device: Device,
    private readonly monotonic: () => number,
  ) {
    // read inline, not through a helper: the boot's call stack is the deepest (docs/MEMORY.md)
    for (let i = 0; i < STATS_MONTHS_KEPT + STATS_YEARS_KEPT; i++) {
      const month = i < STATS_MONTHS_KEPT;
      const text = settings.text(month ? KEY.dayStats + i : KEY.monthStats + (i - STATS_MONTHS_KEPT), "");
      const values = text === "" ? undefined : unpack(text, month ? MONTH_RANGES : YEAR_RANGES);
      const record = values === undefined ? undefined : Uint16Array.from(values);
      if (month) this.monthRecords.push(record);
      else this.yearRecords.push(record);
    }
    this.lastMono = monotonic();
    this.lastFlush = this.lastMono;
    this.wasOn = device.relay;
  }

  /** Counts the time on since the last call: called each minute by the scheduler and on every relay change. */
  account(): void {
    const mono = this.monotonic();
    const on = this.wasOn;
    const elapsed = mono - this.lastMono;
    this.lastMono = mono;
    this.wasOn = this.device.relay;
    if (!on || !this.clock.synced()) return;
    this.carryMs += elapsed;
    const minutes = Math.floor(this.carryMs / 60000);
    if (minutes <= 0) return;
    this.carryMs -= minutes * 60000;
    // the minutes belong to the day in the middle of the interval (a tick at 00:00 counts the minute before)
    const day = Math.floor(this.clock.toLocalMs(this.clock.utcMs() - elapsed / 2) / MS_PER_DAY);
    const c = civilFromDays(day);
    const index = (c.year - FIRST_YEAR) * 12 + c.month - 1;
    if (index < 0 || index > 1199) return;
    const ms = index % STATS_MONTHS_KEPT;
    const ys = c.year % STATS_YEARS_KEPT;
    // a new month or year: the finished one reaches flash now, complete
    if ((this.dirtyMonth >= 0 && this.dirtyMonth !== ms) || (this.dirtyYear >= 0 && this.dirtyYear !== ys)) this.flush();
    let month = this.monthRecords[ms];
    if (month === undefined || month[0] !== index) {
      month = new Uint16Array(32);
      month[0] = index;
      this.monthRecords[ms] = month;
    }
    month[c.day] = Math.min(1440, month[c.day] + minutes);
    this.dirtyMonth = ms;
    let year = this.yearRecords[ys];
    if (year === undefined || year[0] !== c.year) {
      year = new Uint16Array(13);
      year[0] = c.year;
      this.yearRecords[ys] = year;
    }
    year[c.month] = Math.min(44640, year[c.month] + minutes);
    this.dirtyYear = ys;
  }

  /** Writes what changed if the last write is STATS_SAVE_INTERVAL_MS old. */
  flushIfDue(): void {
    if (this.monotonic() - this.lastFlush >= STATS_SAVE_INTERVAL_MS) this.flush();
  }

  /** Writes what changed (before a restart, a reset or a stop). */
  flush(): void {
    this.lastFlush = this.monotonic();
    if (this.dirtyMonth >= 0) this.store(KEY.dayStats + this.dirtyMonth, this.monthRecords[this.dirtyMonth], MONTH_RANGES);
    if (this.dirtyYear >= 0) this.store(KEY.monthStats + this.dirtyYear, this.yearRecords[this.dirtyYear], YEAR_RANGES);
    this.dirtyMonth = -1;
    this.dirtyYear = -1;
  }

  /** get_daystat: the days of that month with time on, as {year, month, day, time}. */
  days(year: number, month: number): { [key: string]: number }[] {
    const out: { [key: string]: number }[] = [];
    const index = (year - FIRST_YEAR) * 12 + month - 1;
    const record = this.monthRecords[index % STATS_MONTHS_KEPT];
    if (record === undefined || record[0] !== index) return out;
    const last = daysInMonth(year, month);
    for (let d = 1; d <= last; d++) if (record[d] > 0) out.push({ year, month, day: d, time: record[d] });
    return out;
  }

  /** get_monthstat: the months of that year with time on, as {year, month, time}. */
  months(year: number): { [key: string]: number }[] {
    const out: { [key: string]: number }[] = [];
    const record = this.yearRecords[year % STATS_YEARS_KEPT];
    if (record === undefined || record[0] !== year) return out;
    for (let m = 1; m <= 12; m++) if (record[m] > 0) out.push({ year, month: m, time: record[m] });
    return out;
  }

  erase(): void {
    for (let i = 0; i < STATS_MONTHS_KEPT; i++) {
      this.monthRecords[i] = undefined;
      this.settings.remove(KEY.dayStats + i);
    }
    for (let i = 0; i < STATS_YEARS_KEPT; i++) {
      this.yearRecords[i] = undefined;
      this.settings.remove(KEY.monthStats + i);
    }
    this.dirtyMonth = -1;
    this.dirtyYear = -1;
    this.carryMs = 0;
  }

  private store(key: string, record: Uint16Array | undefined, ranges: readonly FieldRange[]): void {
    if (record !== undefined) this.settings.put(key, pack(record, ranges));
  }
}
