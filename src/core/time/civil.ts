// Civil (proleptic Gregorian) calendar arithmetic on day and millisecond counts, with no time zone.
// Integer-only algorithms from Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms"
// (http://howardhinnant.github.io/date_algorithms.html); valid for negative counts (before 1970)
// and far beyond any date a plug will see. No Date, no Intl: runs unchanged on XS.
//
// Conventions: month 1..12, day of month 1..31, weekday 0 = Sunday .. 6 = Saturday.
// A "wall-clock ms" value is a local date-time encoded as if it were UTC milliseconds since
// 1970-01-01T00:00 (what Date.UTC would return for the same fields).

export const MS_PER_DAY = 86400000;

/** A calendar date. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** A wall-clock date-time, as the Kasa time module reports it. */
export interface LocalTime {
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  mday: number;
  hour: number;
  min: number;
  sec: number;
  /** 0 = Sunday */
  wday: number;
}

export function isLeapYear(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

/** Number of days in month `m` (1..12) of year `y`. */
export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return 30 + ((m + (m >> 3)) & 1);
}

/**
 * Days since 1970-01-01 of the date y-m-d. Like Date.UTC, a month outside 1..12 rolls into
 * neighbouring years and a day outside the month rolls into neighbouring months.
 */
export function daysFromCivil(y: number, m: number, d: number): number {
  if (m < 1 || m > 12) {
    const q = Math.floor((m - 1) / 12);
    y += q;
    m -= q * 12;
  }
  if (m <= 2) y -= 1;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400; // [0, 399]
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1; // [0, 365] for valid d
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy; // [0, 146096]
  return era * 146097 + doe - 719468;
}

/** Year of the day `days` since 1970-01-01 (civilFromDays(days).year without allocating). */
export function yearFromDays(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  // doy counts from March 1; 306 = days from March 1 to January 1.
  return yoe + era * 400 + (doy >= 306 ? 1 : 0);
}

/** The date of day `days` since 1970-01-01. */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097; // [0, 146096]
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365); // [0, 399]
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // [0, 365]
  const mp = Math.floor((5 * doy + 2) / 153); // [0, 11], March = 0
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Day of the week of day `days` since 1970-01-01 (a Thursday); 0 = Sunday. */
export function weekday(days: number): number {
  return (((days + 4) % 7) + 7) % 7; // the outer % also turns -0 into 0
}

/** Splits wall-clock ms into fields (milliseconds are dropped). */
export function splitLocal(ms: number): LocalTime {
  const days = Math.floor(ms / MS_PER_DAY);
  const secs = Math.floor((ms - days * MS_PER_DAY) / 1000); // [0, 86399]
  const c = civilFromDays(days);
  const hour = Math.floor(secs / 3600);
  const rest = secs - hour * 3600;
  const min = Math.floor(rest / 60);
  return { year: c.year, month: c.month, mday: c.day, hour, min, sec: rest - min * 60, wday: weekday(days) };
}

/** Joins wall-clock fields (month 1..12) into wall-clock ms; out-of-range fields roll over like Date.UTC. */
export function joinLocal(year: number, month: number, mday: number, hour: number, min: number, sec: number): number {
  return (daysFromCivil(year, month, mday) * 86400 + hour * 3600 + min * 60 + sec) * 1000;
}
