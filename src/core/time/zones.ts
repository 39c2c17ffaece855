// TP-Link Kasa time-zone table: the IOT firmware's zone index (the "index" field of
// time.get_timezone / time.set_timezone) mapped to an IANA zone name and that zone's POSIX TZ rule.
//
// Index -> IANA name: python-kasa, kasa/iot/iottimezone.py, TIMEZONE_INDEX (introduced by
// python-kasa PR #1147 "Make iot time timezone aware"; read at commit a29d0610bacd).
// Several names are legacy aliases kept as python-kasa spells them (Pacific/Samoa = Pacific/Pago_Pago,
// US/Hawaii = Pacific/Honolulu, GB = Europe/London, UCT = Etc/UTC, Asia/Rangoon = Asia/Yangon,
// Asia/Chongqing = Asia/Shanghai, Australia/Canberra = Australia/Sydney, ...). Indexes 26 and 33
// (America/Santiago, Chile/Continental) name the same zone.
//
// Rule: the POSIX TZ footer of the zone's TZif file in the IANA tz database, version 2025b
// (/usr/share/zoneinfo). A footer describes the zone from its last explicit transition onward, so it
// is exact for current and future dates with one known exception: Africa/Casablanca (37) keeps its
// Ramadan switches to +00 as explicit TZif transitions, which a POSIX rule cannot express; its rule
// "<+01>-1" is therefore one hour ahead during those weeks (2025: Feb 23 - Apr 6 UTC; each later year
// about 11 days earlier).
//
// Generated; do not edit by hand. Regenerate from a newer tzdata and python-kasa when needed.

/** [IANA zone name, POSIX TZ rule]. */
export type ZoneEntry = readonly [iana: string, posix: string];

export const ZONE_COUNT = 110;

/** Factory default zone of real plugs: index 6, PST8PDT (US Pacific). */
export const DEFAULT_ZONE = 6;

function e(iana: string, posix: string): ZoneEntry {
  return Object.freeze([iana, posix] as const);
}

/** The table, indexed by TP-Link zone index. */
export const ZONE_TABLE: readonly ZoneEntry[] = Object.freeze([
  e("Etc/GMT+12", "<-12>12"), // 0
  e("Pacific/Samoa", "SST11"), // 1
  e("US/Hawaii", "HST10"), // 2
  e("US/Alaska", "AKST9AKDT,M3.2.0,M11.1.0"), // 3
  e("Mexico/BajaNorte", "PST8PDT,M3.2.0,M11.1.0"), // 4
  e("Etc/GMT+8", "<-08>8"), // 5
  e("PST8PDT", "PST8PDT,M3.2.0,M11.1.0"), // 6
  e("US/Arizona", "MST7"), // 7
  e("America/Mazatlan", "MST7"), // 8
  e("MST", "MST7"), // 9
  e("MST7MDT", "MST7MDT,M3.2.0,M11.1.0"), // 10
  e("Mexico/General", "CST6"), // 11
  e("Etc/GMT+6", "<-06>6"), // 12
  e("CST6CDT", "CST6CDT,M3.2.0,M11.1.0"), // 13
  e("America/Monterrey", "CST6"), // 14
  e("Canada/Saskatchewan", "CST6"), // 15
  e("America/Bogota", "<-05>5"), // 16
  e("Etc/GMT+5", "<-05>5"), // 17
  e("EST", "EST5"), // 18
  e("America/Indiana/Indianapolis", "EST5EDT,M3.2.0,M11.1.0"), // 19
  e("America/Caracas", "<-04>4"), // 20
  e("America/Asuncion", "<-03>3"), // 21
  e("Etc/GMT+4", "<-04>4"), // 22
  e("Canada/Atlantic", "AST4ADT,M3.2.0,M11.1.0"), // 23
  e("America/Cuiaba", "<-04>4"), // 24
  e("Brazil/West", "<-04>4"), // 25
  e("America/Santiago", "<-04>4<-03>,M9.1.6/24,M4.1.6/24"), // 26
  e("Canada/Newfoundland", "NST3:30NDT,M3.2.0,M11.1.0"), // 27
  e("America/Sao_Paulo", "<-03>3"), // 28
  e("America/Argentina/Buenos_Aires", "<-03>3"), // 29
  e("America/Cayenne", "<-03>3"), // 30
  e("America/Miquelon", "<-03>3<-02>,M3.2.0,M11.1.0"), // 31
  e("America/Montevideo", "<-03>3"), // 32
  e("Chile/Continental", "<-04>4<-03>,M9.1.6/24,M4.1.6/24"), // 33
  e("Etc/GMT+2", "<-02>2"), // 34
  e("Atlantic/Azores", "<-01>1<+00>,M3.5.0/0,M10.5.0/1"), // 35
  e("Atlantic/Cape_Verde", "<-01>1"), // 36
  e("Africa/Casablanca", "<+01>-1"), // 37
  e("UCT", "UTC0"), // 38
  e("GB", "GMT0BST,M3.5.0/1,M10.5.0"), // 39
  e("Africa/Monrovia", "GMT0"), // 40
  e("Europe/Amsterdam", "CET-1CEST,M3.5.0,M10.5.0/3"), // 41
  e("Europe/Belgrade", "CET-1CEST,M3.5.0,M10.5.0/3"), // 42
  e("Europe/Brussels", "CET-1CEST,M3.5.0,M10.5.0/3"), // 43
  e("Europe/Sarajevo", "CET-1CEST,M3.5.0,M10.5.0/3"), // 44
  e("Africa/Lagos", "WAT-1"), // 45
  e("Africa/Windhoek", "CAT-2"), // 46
  e("Asia/Amman", "<+03>-3"), // 47
  e("Europe/Athens", "EET-2EEST,M3.5.0/3,M10.5.0/4"), // 48
  e("Asia/Beirut", "EET-2EEST,M3.5.0/0,M10.5.0/0"), // 49
  e("Africa/Cairo", "EET-2EEST,M4.5.5/0,M10.5.4/24"), // 50
  e("Asia/Damascus", "<+03>-3"), // 51
  e("EET", "EET-2EEST,M3.5.0/3,M10.5.0/4"), // 52
  e("Africa/Harare", "CAT-2"), // 53
  e("Europe/Helsinki", "EET-2EEST,M3.5.0/3,M10.5.0/4"), // 54
  e("Asia/Istanbul", "<+03>-3"), // 55
  e("Asia/Jerusalem", "IST-2IDT,M3.4.4/26,M10.5.0"), // 56
  e("Europe/Kaliningrad", "EET-2"), // 57
  e("Africa/Tripoli", "EET-2"), // 58
  e("Asia/Baghdad", "<+03>-3"), // 59
  e("Asia/Kuwait", "<+03>-3"), // 60
  e("Europe/Minsk", "<+03>-3"), // 61
  e("Europe/Moscow", "MSK-3"), // 62
  e("Africa/Nairobi", "EAT-3"), // 63
  e("Asia/Tehran", "<+0330>-3:30"), // 64
  e("Asia/Muscat", "<+04>-4"), // 65
  e("Asia/Baku", "<+04>-4"), // 66
  e("Europe/Samara", "<+04>-4"), // 67
  e("Indian/Mauritius", "<+04>-4"), // 68
  e("Asia/Tbilisi", "<+04>-4"), // 69
  e("Asia/Yerevan", "<+04>-4"), // 70
  e("Asia/Kabul", "<+0430>-4:30"), // 71
  e("Asia/Ashgabat", "<+05>-5"), // 72
  e("Asia/Yekaterinburg", "<+05>-5"), // 73
  e("Asia/Karachi", "PKT-5"), // 74
  e("Asia/Kolkata", "IST-5:30"), // 75
  e("Asia/Colombo", "<+0530>-5:30"), // 76
  e("Asia/Kathmandu", "<+0545>-5:45"), // 77
  e("Asia/Almaty", "<+05>-5"), // 78
  e("Asia/Dhaka", "<+06>-6"), // 79
  e("Asia/Novosibirsk", "<+07>-7"), // 80
  e("Asia/Rangoon", "<+0630>-6:30"), // 81
  e("Asia/Bangkok", "<+07>-7"), // 82
  e("Asia/Krasnoyarsk", "<+07>-7"), // 83
  e("Asia/Chongqing", "CST-8"), // 84
  e("Asia/Irkutsk", "<+08>-8"), // 85
  e("Asia/Singapore", "<+08>-8"), // 86
  e("Australia/Perth", "AWST-8"), // 87
  e("Asia/Taipei", "CST-8"), // 88
  e("Asia/Ulaanbaatar", "<+08>-8"), // 89
  e("Asia/Tokyo", "JST-9"), // 90
  e("Asia/Seoul", "KST-9"), // 91
  e("Asia/Yakutsk", "<+09>-9"), // 92
  e("Australia/Adelaide", "ACST-9:30ACDT,M10.1.0,M4.1.0/3"), // 93
  e("Australia/Darwin", "ACST-9:30"), // 94
  e("Australia/Brisbane", "AEST-10"), // 95
  e("Australia/Canberra", "AEST-10AEDT,M10.1.0,M4.1.0/3"), // 96
  e("Pacific/Guam", "ChST-10"), // 97
  e("Australia/Hobart", "AEST-10AEDT,M10.1.0,M4.1.0/3"), // 98
  e("Antarctica/DumontDUrville", "<+10>-10"), // 99
  e("Asia/Magadan", "<+11>-11"), // 100
  e("Asia/Srednekolymsk", "<+11>-11"), // 101
  e("Etc/GMT-11", "<+11>-11"), // 102
  e("Asia/Anadyr", "<+12>-12"), // 103
  e("Pacific/Auckland", "NZST-12NZDT,M9.5.0,M4.1.0/3"), // 104
  e("Etc/GMT-12", "<+12>-12"), // 105
  e("Pacific/Fiji", "<+12>-12"), // 106
  e("Etc/GMT-13", "<+13>-13"), // 107
  e("Pacific/Apia", "<+13>-13"), // 108
  e("Etc/GMT-14", "<+14>-14"), // 109
]);

function entry(index: number): ZoneEntry | undefined {
  return Number.isInteger(index) && index >= 0 && index < ZONE_COUNT ? ZONE_TABLE[index] : undefined;
}

/** IANA name for a TP-Link zone index, or undefined if the index is not 0..109. */
export function zoneName(index: number): string | undefined {
  const z = entry(index);
  return z === undefined ? undefined : z[0];
}

/** POSIX TZ rule for a TP-Link zone index, or undefined if the index is not 0..109. */
export function zoneRule(index: number): string | undefined {
  const z = entry(index);
  return z === undefined ? undefined : z[1];
}
