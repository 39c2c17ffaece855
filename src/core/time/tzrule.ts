// POSIX TZ rules (POSIX.1-2024 TZ, as extended by RFC 9636 §3.3.1 for TZif footers):
//
//   std offset [dst [offset] [,start[/time],end[/time]]]
//
// Names are 3+ letters or <...> quoted (letters, digits, '+', '-'); they are checked and dropped.
// Offsets are [+-]hh[:mm[:ss]] hours WEST of UTC ("PST8" = UTC-8); stored here as seconds EAST.
// The DST offset defaults to one hour ahead of standard time. Dates are Mm.w.d (day d, 0 = Sunday,
// of week w, 5 = last, of month m), Jn (1..365, February 29 never counted) or n (0..365, counting
// February 29). Times are [+-]hhh[:mm[:ss]] in -167..167 hours (default 02:00), on the local clock
// in force just before the transition: standard time for the start, DST for the end. "M3.5.0/-1"
// and "J365/25" are therefore legal. DST with no rule falls back to the US rule M3.2.0,M11.1.0 as
// tzcode does. The start may fall after the end within a year (southern hemisphere).
//
// Parse once with parseTzRule, then evaluate with integer arithmetic and no allocation.

import { MS_PER_DAY, yearFromDays } from "./civil.js";

/** Transition date forms (TzRule.startKind / endKind). */
export const DATE_MWD = 0; // Mm.w.d
export const DATE_JULIAN1 = 1; // Jn, 1..365, no leap day
export const DATE_JULIAN0 = 2; // n, 0..365, leap day counted

/** A parsed POSIX TZ rule. All offsets and times are in seconds. */
export interface TzRule {
  /** Standard time offset, seconds east of UTC (local = UTC + std). */
  readonly std: number;
  /** DST offset, seconds east of UTC; equal to std when the rule has no DST. */
  readonly dst: number;
  readonly hasDst: boolean;
  /** DATE_MWD, DATE_JULIAN1 or DATE_JULIAN0. */
  readonly startKind: number;
  /** Mm.w.d: month 1..12 (0 for the other forms). */
  readonly startMonth: number;
  /** Mm.w.d: week 1..5 (0 for the other forms). */
  readonly startWeek: number;
  /** Mm.w.d: weekday 0..6; Jn: 1..365; n: 0..365. */
  readonly startDay: number;
  /** Seconds after local midnight of the start date, on standard time. */
  readonly startTime: number;
  readonly endKind: number;
  readonly endMonth: number;
  readonly endWeek: number;
  readonly endDay: number;
  /** Seconds after local midnight of the end date, on DST. */
  readonly endTime: number;
}

// ---- parser: a cursor over one string ----

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * The parser's state in an object of its own, not in module variables: XS copies every module
 * variable a function uses onto its stack at each call (and keeps an alias slot of RAM for each),
 * and the parse runs at the bottom of the boot's deepest path (the clock's zone) and of
 * set_timezone's; fields cost neither.
 */
class TzParser {
  private pos = 0;
  // The last date read by readDate().
  private dKind = 0;
  private dMonth = 0;
  private dWeek = 0;
  private dDay = 0;

  constructor(private readonly src: string) {}

  private peek(): number {
    return this.pos < this.src.length ? this.src.charCodeAt(this.pos) : -1;
  }

  /** Reads 1..maxDigits decimal digits; -1 if there is none. */
  private readNum(maxDigits: number): number {
    let n = 0;
    let k = 0;
    while (k < maxDigits && this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      this.pos++;
      k++;
    }
    return k === 0 ? -1 : n;
  }

  private readName(): boolean {
    const start = this.pos;
    if (this.peek() === 60 /* < */) {
      this.pos++;
      for (let c = this.peek(); isAlpha(c) || isDigit(c) || c === 43 || c === 45; c = this.peek()) this.pos++;
      if (this.pos - start - 1 < 3 || this.peek() !== 62 /* > */) return false;
      this.pos++;
      return true;
    }
    while (isAlpha(this.peek())) this.pos++;
    return this.pos - start >= 3;
  }

  /** [+-]h[h..][:mm[:ss]] with hours <= maxHours, as signed seconds; NaN if malformed. */
  private readHms(maxHours: number, maxHourDigits: number): number {
    let sign = 1;
    const c = this.peek();
    if (c === 43 /* + */ || c === 45 /* - */) {
      if (c === 45) sign = -1;
      this.pos++;
    }
    const h = this.readNum(maxHourDigits);
    if (h < 0 || h > maxHours) return NaN;
    let m = 0;
    let s = 0;
    if (this.peek() === 58 /* : */) {
      this.pos++;
      m = this.readNum(2);
      if (m < 0 || m > 59) return NaN;
      if (this.peek() === 58) {
        this.pos++;
        s = this.readNum(2);
        if (s < 0 || s > 59) return NaN;
      }
    }
    return sign * (h * 3600 + m * 60 + s);
  }

  /** Mm.w.d | Jn | n into dKind/dMonth/dWeek/dDay. */
  private readDate(): boolean {
    const c = this.peek();
    if (c === 77 /* M */) {
      this.pos++;
      const m = this.readNum(2);
      if (m < 1 || m > 12 || this.peek() !== 46 /* . */) return false;
      this.pos++;
      const w = this.readNum(1);
      if (w < 1 || w > 5 || this.peek() !== 46) return false;
      this.pos++;
      const d = this.readNum(1);
      if (d < 0 || d > 6) return false;
      this.dKind = DATE_MWD;
      this.dMonth = m;
      this.dWeek = w;
      this.dDay = d;
      return true;
    }
    if (c === 74 /* J */) {
      this.pos++;
      const n = this.readNum(3);
      if (n < 1 || n > 365) return false;
      this.dKind = DATE_JULIAN1;
      this.dDay = n;
    } else {
      const n = this.readNum(3);
      if (n < 0 || n > 365) return false;
      this.dKind = DATE_JULIAN0;
      this.dDay = n;
    }
    this.dMonth = 0;
    this.dWeek = 0;
    return true;
  }

  /** Optional "/time" after a date; 02:00 when absent, NaN if malformed. */
  private readTime(): number {
    if (this.peek() !== 47 /* / */) return 7200;
    this.pos++;
    return this.readHms(167, 3);
  }

  /** The whole string as a rule; undefined if it is malformed. */
  rule(): TzRule | undefined {
    if (!this.readName()) return undefined;
    const west = this.readHms(24, 2);
    if (west !== west) return undefined; // NaN
    const std = west === 0 ? 0 : -west; // no -0
    if (this.pos === this.src.length) {
      return {
        std, dst: std, hasDst: false,
        startKind: 0, startMonth: 0, startWeek: 0, startDay: 0, startTime: 0,
        endKind: 0, endMonth: 0, endWeek: 0, endDay: 0, endTime: 0,
      };
    }
    if (!this.readName()) return undefined;
    let dst = std + 3600;
    const c = this.peek();
    if (c === 43 || c === 45 || isDigit(c)) {
      const dwest = this.readHms(24, 2);
      if (dwest !== dwest) return undefined;
      dst = dwest === 0 ? 0 : -dwest;
    }
    if (this.pos === this.src.length) {
      // No transition rule: tzcode's default, the US rule since 2007.
      return {
        std, dst, hasDst: true,
        startKind: DATE_MWD, startMonth: 3, startWeek: 2, startDay: 0, startTime: 7200,
        endKind: DATE_MWD, endMonth: 11, endWeek: 1, endDay: 0, endTime: 7200,
      };
    }
    if (this.peek() !== 44 /* , */) return undefined;
    this.pos++;
    if (!this.readDate()) return undefined;
    const startKind = this.dKind, startMonth = this.dMonth, startWeek = this.dWeek, startDay = this.dDay;
    const startTime = this.readTime();
    if (startTime !== startTime || this.peek() !== 44) return undefined;
    this.pos++;
    if (!this.readDate()) return undefined;
    const endTime = this.readTime();
    if (endTime !== endTime || this.pos !== this.src.length) return undefined;
    return {
      std, dst, hasDst: true,
      startKind, startMonth, startWeek, startDay, startTime,
      endKind: this.dKind, endMonth: this.dMonth, endWeek: this.dWeek, endDay: this.dDay, endTime,
    };
  }
}

/**
 * Parses a POSIX TZ string such as "PST8PDT,M3.2.0,M11.1.0", "<+0545>-5:45" or
 * "<-04>4<-03>,M9.1.6/24,M4.1.6/24". Returns undefined if it is malformed (including the
 * implementation-defined ":characters" form).
 */
export function parseTzRule(posix: string): TzRule | undefined {
  return new TzParser(posix).rule();
}

// ---- evaluation ----

/**
 * The instant (UTC ms) of a transition in `year`: its date form and fields, `seconds` after local
 * midnight on the clock whose offset (seconds east) is `offset`. One flat function, with civil.ts's
 * daysFromCivil, weekday, daysInMonth and isLeapYear written out: it runs inside requests (get_time,
 * sysinfo, set_time), at the bottom of their deepest path, where every call level costs XS stack.
 */
function transitionUtcMs(kind: number, month: number, week: number, day: number, seconds: number, offset: number, year: number): number {
  // daysFromCivil(year, m, 1): the first of the month (m is 1-12), or January 1st for the Julian forms
  const m = kind === DATE_MWD ? month : 1;
  const y = m <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  let d = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) - 719468;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (kind === DATE_MWD) {
    const first = d;
    // the first `day` of the week in the month (1970-01-01 was a Thursday), then week - 1 weeks on
    d += ((day - ((((first + 4) % 7) + 7) % 7) + 7) % 7) + (week - 1) * 7;
    if (d >= first + (month === 2 ? (leap ? 29 : 28) : 30 + ((month + (month >> 3)) & 1))) d -= 7; // week 5 = last
  } else {
    d += day;
    if (kind === DATE_JULIAN1) d += (day >= 60 && leap ? 1 : 0) - 1;
  }
  return d * MS_PER_DAY + (seconds - offset) * 1000;
}

/** True if DST is in force at the instant `utcMs` (ms since the epoch). */
export function isDstAt(rule: TzRule, utcMs: number): boolean {
  if (!rule.hasDst) return false;
  // The state at t is set by the latest transition at or before t. Transitions of a year may
  // spill up to a week into its neighbours (times up to +-167 h), so look at the year of t on
  // the standard-time clock and both neighbours. Ties go to the transition that comes later in
  // the yearly sequence, so "0/0,J365/25" (DST all year) never shows a zero-length gap.
  const y = yearFromDays(Math.floor((utcMs + rule.std * 1000) / MS_PER_DAY));
  let best = -Infinity;
  let dst = false;
  for (let yr = y - 1; yr <= y + 1; yr++) {
    const s = transitionUtcMs(rule.startKind, rule.startMonth, rule.startWeek, rule.startDay, rule.startTime, rule.std, yr);
    const e = transitionUtcMs(rule.endKind, rule.endMonth, rule.endWeek, rule.endDay, rule.endTime, rule.dst, yr);
    if (s < e) {
      // northern: start, then end
      if (s <= utcMs && s >= best) { best = s; dst = true; }
      if (e <= utcMs && e >= best) { best = e; dst = false; }
    } else {
      // southern: end, then start
      if (e <= utcMs && e >= best) { best = e; dst = false; }
      if (s <= utcMs && s >= best) { best = s; dst = true; }
    }
  }
  return dst;
}

/** Offset from UTC in seconds east in force at the instant `utcMs`: local = utc + offset. */
export function utcOffsetAt(rule: TzRule, utcMs: number): number {
  return isDstAt(rule, utcMs) ? rule.dst : rule.std;
}

/**
 * The instant (UTC ms) at which the local wall clock reads `localMs` (a wall-clock time encoded
 * as if it were UTC ms, see civil.ts).
 *
 * Wall times that do not exist or exist twice are resolved like this:
 * - In a gap (spring forward, e.g. 02:30 on a US March change day) the time is read on the
 *   offset in force before the gap, i.e. as standard time; it maps to the instant after the gap
 *   (02:30 PST = 03:30 PDT).
 * - In an overlap (fall back, e.g. 01:30 on a US November change day) the FIRST occurrence is
 *   chosen, i.e. the time is read as DST (01:30 PDT, not 01:30 PST).
 * In general: try the larger of the two offsets (the earlier instant) and keep it if the clock
 * really shows that offset then; otherwise use the smaller one. For ordinary DST, where the DST
 * offset is the larger, this is exactly the two rules above.
 */
export function localToUtc(rule: TzRule, localMs: number): number {
  if (!rule.hasDst) return localMs - rule.std * 1000;
  const hi = rule.dst > rule.std ? rule.dst : rule.std;
  const lo = rule.dst > rule.std ? rule.std : rule.dst;
  const early = localMs - hi * 1000;
  if ((isDstAt(rule, early) ? rule.dst : rule.std) === hi) return early;
  return localMs - lo * 1000;
}
