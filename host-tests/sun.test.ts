import { describe, it, expect } from "vitest";
import { SUN_NONE, sunEventUtcMinutes } from "../src/core/time/sun.js";
import { daysFromCivil } from "../src/core/time/civil.js";

// Checked against PUBLISHED sunrise/sunset tables, not against another copy of the NOAA formulas.
// Each reference is a local clock time as printed by its source; it is turned into minutes from
// 00:00 UTC of the date asked for by subtracting the stated UTC offset (and adding a day when the
// source lists the event on the next date, as USNO's UT tables do for a sunset after 24:00 UT).
//
// Tolerance: ±2 minutes. Sources print whole minutes (some round, some truncate) or seconds; the
// coordinates a source used are taken from the source where it states them.

const TOLERANCE_MIN = 2;

type Ymd = readonly [number, number, number];

interface Ref {
  /** Where the value was published. */
  source: string;
  place: string;
  lat: number;
  lon: number;
  date: Ymd;
  event: 1 | 2;
  /** Clock time as published, "HH:MM" or "HH:MM:SS". */
  local: string;
  /** Minutes east of UTC of the published clock time. */
  utcOffsetMin: number;
  /** Date the source lists the event under, when it is not `date` (USNO UT tables after 24:00 UT). */
  listedOn?: Ymd;
}

function clockMinutes(hms: string): number {
  const parts = hms.split(":").map(Number);
  return parts[0] * 60 + parts[1] + (parts[2] ?? 0) / 60;
}

function expectedUtcMinutes(r: Ref): number {
  const shift = r.listedOn
    ? daysFromCivil(r.listedOn[0], r.listedOn[1], r.listedOn[2]) - daysFromCivil(r.date[0], r.date[1], r.date[2])
    : 0;
  return shift * 1440 + clockMinutes(r.local) - r.utcOffsetMin;
}

/** A rise/set pair from one source row (either may be null when the source gives only one). */
function pair(
  source: string,
  place: string,
  lat: number,
  lon: number,
  utcOffsetMin: number,
  date: Ymd,
  rise: string | null,
  set: string | null,
  setListedOn?: Ymd,
): Ref[] {
  const out: Ref[] = [];
  if (rise) out.push({ source, place, lat, lon, date, event: 1, local: rise, utcOffsetMin });
  if (set) out.push({ source, place, lat, lon, date, event: 2, local: set, utcOffsetMin, listedOn: setListedOn });
  return out;
}

// --- North America: USNO one-year table, Fredonia AZ, 2023 -----------------------------------
// "Rise and Set for the Sun for 2023", U.S. Naval Observatory Astronomical Applications Dept.,
// Location W112 31, N36 57, "Zone: 7h West of Greenwich" (UTC-7, no DST), as fetched from
// https://aa.usno.navy.mil/calculated/rstt/year?ID=AA&year=2023&task=0&lat=36.95&lon=-112.52&label=Fredonia%2C+AZ&tz=7&tz_sign=-1
// (copy kept verbatim in skyfield's repository, design/rising_usno.py).
const USNO_FREDONIA = "USNO one-year table, Fredonia AZ 2023 (UTC-7)";
const FREDONIA: Ref[] = [
  ...pair(USNO_FREDONIA, "Fredonia", 36.95, -112.52, -420, [2023, 3, 20], "06:34", "18:42"), // equinox
  ...pair(USNO_FREDONIA, "Fredonia", 36.95, -112.52, -420, [2023, 6, 21], "05:11", "19:53"), // June solstice
  ...pair(USNO_FREDONIA, "Fredonia", 36.95, -112.52, -420, [2023, 9, 23], "06:19", "18:26"), // equinox
  ...pair(USNO_FREDONIA, "Fredonia", 36.95, -112.52, -420, [2023, 12, 21], "07:39", "17:17"), // December solstice
];

// --- High latitudes and the southern ocean: USNO one-year tables in Universal Time, 2019 ----------
// https://aa.usno.navy.mil/data/docs/RS_OneYear.php output pages, kept verbatim in
// cosinekitty/astronomy generate/riseset/sun_2019_E000_N60.html, sun_2019_E000_N80.html and
// sun_2019_W150_S60.html ("Universal Time", offset 0).
const USNO_N60 = "USNO one-year table 2019, 000 00, N60 00 (UT)";
const USNO_N80 = "USNO one-year table 2019, 000 00, N80 00 (UT)";
const USNO_S60 = "USNO one-year table 2019, W150 00, S60 00 (UT)";
const USNO_UT: Ref[] = [
  ...pair(USNO_N60, "60N 0E", 60, 0, 0, [2019, 3, 20], "06:03", "18:14"),
  ...pair(USNO_N60, "60N 0E", 60, 0, 0, [2019, 6, 21], "02:36", "21:28"),
  ...pair(USNO_N60, "60N 0E", 60, 0, 0, [2019, 12, 21], "09:02", "14:54"),
  ...pair(USNO_N80, "80N 0E", 80, 0, 0, [2019, 3, 21], "05:45", "18:34"),
  ...pair(USNO_N80, "80N 0E", 80, 0, 0, [2019, 9, 23], "05:33", "18:08"),
  // 150°W: local noon is near 22:00 UT, so each solar day's sunset is listed on the next UT date.
  ...pair(USNO_S60, "60S 150W", -60, -150, 0, [2019, 1, 1], "12:43", "07:23", [2019, 1, 2]),
  ...pair(USNO_S60, "60S 150W", -60, -150, 0, [2019, 3, 20], "16:00", "04:13", [2019, 3, 21]),
  ...pair(USNO_S60, "60S 150W", -60, -150, 0, [2019, 6, 21], "19:06", "00:58", [2019, 6, 22]),
  ...pair(USNO_S60, "60S 150W", -60, -150, 0, [2019, 12, 21], "12:32", "07:24", [2019, 12, 22]),
];

// --- Asia: Tokyo (JST, UTC+9) ---------------------------------------------------------------------
// Coordinates of NAOJ's Tokyo reference point (former Tokyo Astronomical Observatory, Azabu):
// 139°44'28.8869"E 35°39'29.1572"N (NAOJ Reki Yoko, http://eco.mtk.nao.ac.jp/koyomi/yoko/index.html.en).
// Sunrise here is on the previous UTC day, so the expected values are negative.
const TOKYO_LAT = 35 + 39 / 60 + 29.1572 / 3600;
const TOKYO_LON = 139 + 44 / 60 + 28.8869 / 3600;
const SERIC = "seric.co.jp/column/15-2/ (Tokyo 2023-12 to 2024-01 table, to the second, JST)";
const KANTOKO = "kanlrgg7.ssw52.secure-cms.net/blog/2020/06/90131 (Tokyo 2020 extremes, to the second, JST)";
const GAKUTO = "r7-kagaku.gakuto-plus.jp 2025/04/09 (2024年の東京都: earliest sunrise 6/5-6/20 4:25, latest sunset 6/23-7/4 19:01, JST)";
const TOKYO: Ref[] = [
  ...pair(SERIC, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2023, 12, 6], "06:36:22", "16:27:41"),
  ...pair(SERIC, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2023, 12, 22], "06:47:17", "16:31:46"), // December solstice
  ...pair(SERIC, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2024, 1, 7], "06:51:24", "16:42:56"),
  ...pair(KANTOKO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2020, 6, 12], "04:24:23", null),
  ...pair(KANTOKO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2020, 6, 28], null, "19:01:15"),
  ...pair(KANTOKO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2020, 1, 7], "06:51:25", null),
  ...pair(KANTOKO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2020, 12, 5], null, "16:27:42"),
  ...pair(GAKUTO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2024, 6, 5], "04:25", null),
  ...pair(GAKUTO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2024, 6, 20], "04:25", null), // eve of June solstice
  ...pair(GAKUTO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2024, 6, 23], null, "19:01"),
  ...pair(GAKUTO, "Tokyo", TOKYO_LAT, TOKYO_LON, 540, [2024, 7, 4], null, "19:01"),
];

// --- Australia, southern hemisphere: Melbourne Planetarium "Skynotes" (Museums Victoria) -------------
// Melbourne location as stated by Museums Victoria's rise-and-set page: 37°50' S, 145° E
// (museumvictoria.com.au/planetarium/discoverycentre/rise-and-set-times/).
const MEL_LAT = -(37 + 50 / 60);
const MEL_LON = 145;
const SKY_2014_06 = "museumvictoria.com.au/planetarium/discoverycentre/skynotes/skynotes-june-2014/ (AEST, UTC+10)";
const SKY_2024_03 = "museumsvictoria.com.au/scienceworks/plan-your-visit/melbourne-planetarium/skynotes/skynotes-march-2024/ (AEDT, UTC+11)";
const MELBOURNE: Ref[] = [
  ...pair(SKY_2014_06, "Melbourne", MEL_LAT, MEL_LON, 600, [2014, 6, 1], "07:26", "17:09"),
  ...pair(SKY_2014_06, "Melbourne", MEL_LAT, MEL_LON, 600, [2014, 6, 21], "07:36", "17:08"), // June solstice
  ...pair(SKY_2014_06, "Melbourne", MEL_LAT, MEL_LON, 600, [2014, 6, 30], "07:37", "17:11"),
  ...pair(SKY_2024_03, "Melbourne", MEL_LAT, MEL_LON, 660, [2024, 3, 1], "07:04", "19:59"),
  ...pair(SKY_2024_03, "Melbourne", MEL_LAT, MEL_LON, 660, [2024, 3, 21], "07:24", "19:29"), // March equinox
];

// --- Europe: London -------------------------------------------------------------------------------
// The 2025 table states its point: Houses of Parliament, 51.5°N, 0.125°W. The 2011/2012 equilux lists
// give no coordinates; the same point is used for them.
const LON_LAT = 51.5;
const LON_LON = -0.125;
const GEEZER = "diamond geezer, 20 June 2025, via news.najib.digital/summer-solstice-london-25494.html (BST, UTC+1)";
const OWENS_2011 = "darkskydiary.wordpress.com/2011/03/18/happy-spring-equilux/ (GMT, UTC+0)";
const OWENS_2012 = "darkskydiary.wordpress.com/2012/03/17/happy-spring-equilux-2012-3/ (GMT, UTC+0)";
const LONDON: Ref[] = [
  ...pair(GEEZER, "London", LON_LAT, LON_LON, 60, [2025, 6, 15], "04:42:13", "21:20:07"),
  ...pair(GEEZER, "London", LON_LAT, LON_LON, 60, [2025, 6, 21], "04:42:38", "21:22:06"), // June solstice
  ...pair(OWENS_2011, "London", LON_LAT, LON_LON, 0, [2011, 3, 18], "06:09", "18:09"), // near the equinox
  ...pair(OWENS_2012, "London", LON_LAT, LON_LON, 0, [2012, 3, 17], "06:10", "18:10"),
];

const ALL: Ref[] = [...FREDONIA, ...USNO_UT, ...TOKYO, ...MELBOURNE, ...LONDON];

describe("sunEventUtcMinutes against published tables (±2 min)", () => {
  for (const r of ALL) {
    const what = `${r.place} ${r.date.join("-")} ${r.event === 1 ? "sunrise" : "sunset"} ${r.local} (${r.source})`;
    it(what, () => {
      const got = sunEventUtcMinutes(r.date[0], r.date[1], r.date[2], r.lat, r.lon, r.event);
      const want = expectedUtcMinutes(r);
      expect(Math.abs(got - want), `got ${got}, published ${want.toFixed(2)}`).toBeLessThanOrEqual(TOLERANCE_MIN);
    });
  }

  it("places the Tokyo sunrise on the previous UTC day and a 150°W sunset on the next one", () => {
    expect(sunEventUtcMinutes(2024, 6, 20, TOKYO_LAT, TOKYO_LON, 1)).toBeLessThan(0);
    expect(sunEventUtcMinutes(2019, 6, 21, -60, -150, 2)).toBeGreaterThan(1440);
  });
});

describe("polar day and night", () => {
  // USNO 2019 table at 000 00, N80 00 (cosinekitty/astronomy generate/riseset/sun_2019_E000_N80.html):
  // "****" (continuously above horizon) on 21 June, "----" (continuously below) on 21 December.
  it("80°N: no rise or set at midsummer or midwinter (USNO 2019)", () => {
    for (const event of [1, 2] as const) {
      expect(sunEventUtcMinutes(2019, 6, 21, 80, 0, event)).toBe(SUN_NONE);
      expect(sunEventUtcMinutes(2019, 12, 21, 80, 0, event)).toBe(SUN_NONE);
    }
  });

  // Lonely Planet, "Feature: Midnight Sun & Polar Night" (Norway): Tromsø 69°42' midnight sun 20 May - 22 Jul,
  // polar night 25 Nov - 17 Jan; Longyearbyen 78°12' midnight sun 20 Apr - 21 Aug, polar night 26 Oct - 16 Feb.
  // (Longitudes, not in that table: Tromsø 18.96°E, Longyearbyen 15.63°E.)
  it("Tromsø and Longyearbyen: SUN_NONE inside the published midnight-sun and polar-night spans", () => {
    const places: [number, number][] = [
      [69.7, 18.96],
      [78.2, 15.63],
    ];
    for (const [lat, lon] of places) {
      for (const event of [1, 2] as const) {
        expect(sunEventUtcMinutes(2024, 6, 21, lat, lon, event)).toBe(SUN_NONE);
        expect(sunEventUtcMinutes(2024, 7, 1, lat, lon, event)).toBe(SUN_NONE);
        expect(sunEventUtcMinutes(2024, 12, 21, lat, lon, event)).toBe(SUN_NONE);
        expect(sunEventUtcMinutes(2025, 1, 5, lat, lon, event)).toBe(SUN_NONE);
      }
    }
  });

  it("the poles themselves give SUN_NONE, and SUN_NONE is outside ±2 days of minutes", () => {
    expect(sunEventUtcMinutes(2024, 6, 21, 90, 0, 1)).toBe(SUN_NONE);
    expect(sunEventUtcMinutes(2024, 6, 21, -90, 0, 2)).toBe(SUN_NONE);
    expect(Math.abs(SUN_NONE)).toBeGreaterThan(2 * 1440);
  });
});

describe("result shape", () => {
  it("returns whole minutes, sunrise before sunset, everywhere the sun rises and sets", () => {
    for (let lat = -65; lat <= 65; lat += 5) {
      for (let lon = -180; lon <= 180; lon += 15) {
        for (let month = 1; month <= 12; month++) {
          const rise = sunEventUtcMinutes(2025, month, 15, lat, lon, 1);
          const set = sunEventUtcMinutes(2025, month, 15, lat, lon, 2);
          expect(Number.isInteger(rise)).toBe(true);
          expect(Number.isInteger(set)).toBe(true);
          if (rise === SUN_NONE || set === SUN_NONE) continue;
          expect(rise).toBeLessThan(set);
          expect(rise).toBeGreaterThan(-1440);
          expect(set).toBeLessThan(2 * 1440);
        }
      }
    }
  });
});
