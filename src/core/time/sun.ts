// Sunrise and sunset times for a date and place, as minutes from 00:00 UTC of that date.
//
// Formulas: NOAA Global Monitoring Laboratory solar calculator ("General Solar Position
// Calculations" and the NOAA_Solar_Calculations_day spreadsheet, after Meeus, "Astronomical
// Algorithms"): Julian century, geometric mean longitude and anomaly, equation of centre, apparent
// longitude, corrected obliquity, declination, equation of time, and the hour angle at a solar
// zenith of 90.833° (upper limb on a sea-level horizon with standard refraction). The declination
// and equation of time are re-evaluated at the event itself (three passes from local mean noon),
// not at noon, so the result is good to about ±1 minute below ~60° of latitude and within a few
// minutes near the polar circles, where the sun crosses the horizon at a grazing angle. Elevation,
// terrain and ΔT (UT1 vs UTC, under a second) are ignored. No Date, no allocation: runs on XS.

import { daysFromCivil } from "./civil.js";

/** No sunrise or sunset that day: the sun stays up (polar day) or down (polar night). */
export const SUN_NONE = 100000;

const RAD = Math.PI / 180;
/** cos(90.833°): the sun's centre 0.833° below the horizon. */
const COS_ZENITH = Math.cos(90.833 * RAD);
const PASSES = 3;

/**
 * Minutes from 00:00 UTC of the civil date year-month-day to the sunrise (event 1) or sunset (event 2)
 * of that date at the given place, for the solar day whose local noon falls on that date (so the
 * result may be negative or above 1440, e.g. Tokyo's sunrise is the previous UTC day). Rounded to the
 * nearest whole minute. SUN_NONE when the sun does not rise/set that day. latitudeDeg -90..90 (north +),
 * longitudeDeg -180..180 (east +).
 */
export function sunEventUtcMinutes(
  year: number,
  month: number,
  day: number,
  latitudeDeg: number,
  longitudeDeg: number,
  event: 1 | 2,
): number {
  // Julian centuries since J2000.0 at 00:00 UTC of the date (JD = days since 1970 + 2440587.5).
  const t0 = (daysFromCivil(year, month, day) + 2440587.5 - 2451545) / 36525;
  const sign = event === 1 ? 1 : -1;
  const sinLat = Math.sin(latitudeDeg * RAD);
  const cosLat = Math.cos(latitudeDeg * RAD);
  let minutes = 720 - 4 * longitudeDeg; // first guess: local mean noon
  for (let pass = 0; pass < PASSES; pass++) {
    const t = t0 + minutes / 52596000; // 1440 * 36525 minutes a Julian century
    const l0 = (280.46646 + t * (36000.76983 + t * 0.0003032)) * RAD; // geometric mean longitude
    const m = (357.52911 + t * (35999.05029 - 0.0001537 * t)) * RAD; // geometric mean anomaly
    const e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t); // orbital eccentricity
    const c =
      Math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t)) +
      Math.sin(2 * m) * (0.019993 - 0.000101 * t) +
      Math.sin(3 * m) * 0.000289; // equation of centre, degrees
    const omega = (125.04 - 1934.136 * t) * RAD;
    const lambda = l0 + (c - 0.00569 - 0.00478 * Math.sin(omega)) * RAD; // apparent longitude
    const eps =
      (23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60 +
        0.00256 * Math.cos(omega)) *
      RAD; // corrected obliquity
    const sinDec = Math.sin(eps) * Math.sin(lambda);
    const cosDec = Math.sqrt(1 - sinDec * sinDec);
    const y = Math.tan(eps / 2) * Math.tan(eps / 2);
    const eqTime =
      (4 / RAD) *
      (y * Math.sin(2 * l0) -
        2 * e * Math.sin(m) +
        4 * e * y * Math.sin(m) * Math.cos(2 * l0) -
        0.5 * y * y * Math.sin(4 * l0) -
        1.25 * e * e * Math.sin(2 * m)); // minutes
    const cosHa = (COS_ZENITH - sinLat * sinDec) / (cosLat * cosDec);
    if (!(cosHa >= -1 && cosHa <= 1)) return SUN_NONE; // also catches a pole (cosLat 0 → NaN/±Inf)
    minutes = 720 - 4 * (longitudeDeg + (sign * Math.acos(cosHa)) / RAD) - eqTime;
  }
  return Math.round(minutes);
}
