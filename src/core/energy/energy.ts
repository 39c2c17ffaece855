// Energy statistics and calibration over the meter driver (emeter, PROTOCOL §2.8): the total since
// the last erase, watt-hours per local day and per month, and the calibration gains. The driver's
// counter only grows (meter/meter.ts); this samples it every ENERGY_SAMPLE_MS and on each read,
// and puts the difference on the day and month of the sample.
//
// Flash, within the ESP8266's limits (docs/MEMORY.md, docs/ENERGY.md): everything lives
// in RAM and reaches the settings at most every ENERGY_SAVE_INTERVAL_MS while it changes, when a
// month or year is finished, and before any restart, reset or stop. A steady load costs 3 writes
// per save (the total, the half-month of days, the year of months): 144 a day. A power cut loses at
// most the energy of the last ENERGY_SAVE_INTERVAL_MS.
//
// Retention, 60-byte settings (an ESP8266 Preference value less its check): days of the current and
// the previous calendar month (two settings per month, days 1-16 and 17-31: "ed" + slot), months of
// the current and the previous year ("em" + year % 2), the total in mWh ("e_tot"), the gains ("cal").

import type { TimerHandle, TimerPort } from "../../ports/ports.js";
import { DEFAULT_GAINS, GAIN_MAX, GAIN_MIN, type Gains, type MeterDriver, type Reading } from "./meter/meter.js";
import { pack, unpack, type FieldRange } from "../storage/pack.js";
import { KEY, type Settings } from "../storage/settings.js";
import { civilFromDays, daysInMonth, MS_PER_DAY } from "../time/civil.js";
import type { WallClock } from "../time/clock.js";
import { ENERGY_SAMPLE_MS, ENERGY_SAVE_INTERVAL_MS } from "../timing.js";
import { member, type JsonOut, type JsonWritable } from "../protocol/wire/json-out.js";

export const ENERGY_MONTHS_KEPT = 2;
export const ENERGY_YEARS_KEPT = 2;
const FIRST_YEAR = 2000;
/** A day's most: 5 kW (the meter's bound for a 16 A plug) for 24 h is 120,000 Wh; 17 bits. */
export const MAX_DAY_WH = 131071;
/** A month's most: 22 bits (5 kW for 31 days is 3,720,000 Wh). */
export const MAX_MONTH_WH = 4194303;
/** The total's most: 12 digits of mWh (a setting's integer), a million kWh. */
export const MAX_TOTAL_MWH = 999_999_999_999;
/** Days in the first half-month record; the second holds the rest (17-31). */
const HALF = 16;

const DAY_RANGE: FieldRange = Object.freeze([0, MAX_DAY_WH] as const);
const MONTH_RANGE: FieldRange = Object.freeze([0, MAX_MONTH_WH] as const);
/** A half-month: months since 2000-01, then 16 (or 15) days of Wh. 48 characters. */
const FIRST_HALF: readonly FieldRange[] = ranges([0, 1199], DAY_RANGE, HALF);
const SECOND_HALF: readonly FieldRange[] = ranges([0, 1199], DAY_RANGE, 31 - HALF);
/** A year: the year, then 12 months of Wh. 46 characters. */
const YEAR: readonly FieldRange[] = ranges([FIRST_YEAR, 2099], MONTH_RANGE, 12);

function ranges(head: FieldRange, each: FieldRange, count: number): readonly FieldRange[] {
  const r: FieldRange[] = [Object.freeze(head)];
  for (let i = 0; i < count; i++) r.push(each);
  return Object.freeze(r);
}

/** The Kasa gains that mean "the chip's own constants" (softScheck's HS110 values). */
export const DEFAULT_VGAIN = 13462;
export const DEFAULT_IGAIN = 16835;
/** Gains are stored as parts per million. */
const PPM = 1_000_000;

export class EnergyStats {
  /** Per month slot: [month index, Wh of day 1..31]; undefined when empty. */
  private readonly months: (Uint32Array | undefined)[] = [];
  /** Per year slot: [year, Wh of month 1..12]. */
  private readonly years: (Uint32Array | undefined)[] = [];
  /** Dirty half-month settings (bit slot * 2 + half) and year slots (bit slot). */
  private dirtyHalves = 0;
  private dirtyYears = 0;
  private totalMwh: number;
  private totalDirty = false;
  /** mWh sampled but not yet on a day: under a watt-hour, or counted before the time was known. */
  private carryMwh = 0;
  private lastEnergy = -1;
  private lastSampleMono: number;
  private lastFlush: number;
  private timer: TimerHandle | undefined;

  constructor(
    readonly meter: MeterDriver | undefined,
    private readonly settings: Settings,
    private readonly clock: WallClock,
    private readonly timers: TimerPort,
    private readonly monotonic: () => number,
  ) {
    // read inline, not through a helper: the boot's call stack is the deepest (docs/MEMORY.md)
    for (let i = 0; i < ENERGY_MONTHS_KEPT * 2; i++) {
      const slot = i >> 1;
      const half = i & 1;
      const values = unpack(settings.text(KEY.energyDays + i, ""), half === 0 ? FIRST_HALF : SECOND_HALF);
      if (values === undefined) continue;
      let record = this.months[slot];
      if (record === undefined || record[0] !== values[0]) {
        // a half of an older month that the new one has not overwritten yet: the newer month wins
        if (record !== undefined && record[0] > values[0]) continue;
        record = new Uint32Array(32);
        record[0] = values[0];
        this.months[slot] = record;
      }
      for (let d = 1; d < values.length; d++) record[half * HALF + d] = values[d];
    }
    for (let i = 0; i < ENERGY_YEARS_KEPT; i++) {
      const values = unpack(settings.text(KEY.energyMonths + i, ""), YEAR);
      this.years[i] = values === undefined ? undefined : Uint32Array.from(values);
    }
    this.totalMwh = settings.int(KEY.energyTotal, 0, MAX_TOTAL_MWH, 0);
    const gains = readGains(settings.text(KEY.calibration, ""));
    if (gains !== undefined) meter?.setCalibration(gains);
    this.lastSampleMono = this.lastFlush = monotonic();
  }

  /** Starts the chip and the sampling (each minute). */
  start(): void {
    if (this.meter === undefined || this.timer !== undefined) return;
    this.meter.start();
    this.lastEnergy = this.meter.energy_mwh();
    this.lastSampleMono = this.monotonic();
    this.timer = this.timers.every(ENERGY_SAMPLE_MS, this);
  }

  /** Its sampling timer (a TimerTarget): a sample each minute, saved now and then. */
  fired(): void {
    this.sample();
    if (this.monotonic() - this.lastFlush >= ENERGY_SAVE_INTERVAL_MS) this.flush();
  }

  /** Stops sampling and the chip; what was counted reaches flash. */
  stop(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
    this.sample();
    this.flush();
    this.meter?.stop();
  }

  /** The last accepted reading (undefined: no meter, or none fresh). */
  reading(): Reading | undefined {
    return this.meter?.latest();
  }

  /** Energy since the last erase, in mWh (sampled now). */
  total_mwh(): number {
    this.sample();
    return this.totalMwh;
  }

  /** Takes the driver's energy since the last sample onto the total and onto today. */
  sample(): void {
    const meter = this.meter;
    if (meter === undefined || this.lastEnergy < 0) return;
    const energy = meter.energy_mwh();
    const mono = this.monotonic();
    const elapsed = mono - this.lastSampleMono;
    const delta = energy - this.lastEnergy;
    this.lastEnergy = energy;
    this.lastSampleMono = mono;
    if (!(delta > 0)) return;
    this.totalMwh = Math.min(MAX_TOTAL_MWH, this.totalMwh + delta);
    this.totalDirty = true;
    this.carryMwh += delta;
    if (!this.clock.synced()) return; // kept in the carry: it goes on the first day the time is known
    const wh = Math.floor(this.carryMwh / 1000);
    if (wh <= 0) return;
    this.carryMwh -= wh * 1000;
    // the energy belongs to the day in the middle of the interval (a sample at 00:00 counts the minute before)
    const day = Math.floor(this.clock.toLocalMs(this.clock.utcMs() - elapsed / 2) / MS_PER_DAY);
    this.place(day, wh);
  }

  private place(day: number, wh: number): void {
    const c = civilFromDays(day);
    const index = (c.year - FIRST_YEAR) * 12 + c.month - 1;
    if (index < 0 || index > 1199) return;
    const ms = index % ENERGY_MONTHS_KEPT;
    const ys = c.year % ENERGY_YEARS_KEPT;
    let month = this.months[ms];
    if (month === undefined || month[0] !== index) {
      // a month finished: its record reaches flash now, complete, before the slot is reused
      if (this.dirtyHalves !== 0) this.flush();
      month = new Uint32Array(32);
      month[0] = index;
      this.months[ms] = month;
    }
    month[c.day] = Math.min(MAX_DAY_WH, month[c.day] + wh);
    this.dirtyHalves |= 1 << (ms * 2 + (c.day > HALF ? 1 : 0));
    let year = this.years[ys];
    if (year === undefined || year[0] !== c.year) {
      if (this.dirtyYears !== 0) this.flush();
      year = new Uint32Array(13);
      year[0] = c.year;
      this.years[ys] = year;
    }
    year[c.month] = Math.min(MAX_MONTH_WH, year[c.month] + wh);
    this.dirtyYears |= 1 << ys;
  }

  /** Writes what changed (each minute's sampling calls it every ENERGY_SAVE_INTERVAL_MS; restarts and stops too). */
  flush(): void {
    this.lastFlush = this.monotonic();
    if (this.totalDirty) this.settings.put(KEY.energyTotal, this.totalMwh);
    this.totalDirty = false;
    for (let i = 0; i < ENERGY_MONTHS_KEPT * 2; i++) {
      if ((this.dirtyHalves & (1 << i)) === 0) continue;
      const record = this.months[i >> 1];
      if (record === undefined) continue;
      const half = i & 1;
      const values = record.subarray(half * HALF, half === 0 ? HALF + 1 : 32);
      if (half === 1) {
        // the second half's record starts with the month too
        const withMonth = new Uint32Array(32 - HALF);
        withMonth[0] = record[0];
        withMonth.set(record.subarray(HALF + 1, 32), 1);
        this.settings.put(KEY.energyDays + i, pack(withMonth, SECOND_HALF));
      } else {
        this.settings.put(KEY.energyDays + i, pack(values, FIRST_HALF));
      }
    }
    for (let i = 0; i < ENERGY_YEARS_KEPT; i++) {
      const record = this.years[i];
      if ((this.dirtyYears & (1 << i)) !== 0 && record !== undefined) this.settings.put(KEY.energyMonths + i, pack(record, YEAR));
    }
    this.dirtyHalves = 0;
    this.dirtyYears = 0;
  }

  /**
   * get_daystat's day_list: the days of that month with energy, in Wh (`energy_wh`, v2) or kWh
   * (`energy`, v1), as the month's record is now (a copy of its days, written by the answer).
   */
  days(year: number, month: number, wh: boolean): JsonWritable | readonly never[] {
    this.sample();
    const index = (year - FIRST_YEAR) * 12 + month - 1;
    const record = this.months[index % ENERGY_MONTHS_KEPT];
    if (record === undefined || record[0] !== index) return NONE;
    return new StatList(year, month, record.slice(1, daysInMonth(year, month) + 1), wh);
  }

  /** get_monthstat's month_list: the months of that year with energy, in Wh or kWh as `days`. */
  monthsOf(year: number, wh: boolean): JsonWritable | readonly never[] {
    this.sample();
    const record = this.years[year % ENERGY_YEARS_KEPT];
    if (record === undefined || record[0] !== year) return NONE;
    return new StatList(year, 0, record.slice(1, 13), wh);
  }

  /** erase_emeter_stat: the total, the days and the months start again from zero. */
  erase(): void {
    this.sample();
    for (let i = 0; i < ENERGY_MONTHS_KEPT * 2; i++) this.settings.remove(KEY.energyDays + i);
    for (let i = 0; i < ENERGY_YEARS_KEPT; i++) this.settings.remove(KEY.energyMonths + i);
    this.settings.remove(KEY.energyTotal);
    this.months.length = 0;
    this.years.length = 0;
    this.dirtyHalves = this.dirtyYears = 0;
    this.totalMwh = this.carryMwh = 0;
    this.totalDirty = false;
  }

  /** The gains in use (stored ones when there is no meter). */
  gains(): Gains {
    return this.meter?.calibration() ?? readGains(this.settings.text(KEY.calibration, "")) ?? DEFAULT_GAINS;
  }

  /** Applies and stores gains; false (nothing changed) when one is out of range or the store refused. */
  setGains(gains: Gains): boolean {
    if (!validGains(gains)) return false;
    const text = `${Math.round(gains.voltage * PPM)},${Math.round(gains.current * PPM)},${Math.round(gains.power * PPM)}`;
    if (!this.settings.put(KEY.calibration, text)) return false;
    this.meter?.setCalibration(gains);
    return true;
  }

  /**
   * start_calibration: new gains from the present raw readings against a known resistive load
   * (targets in mV and mA), applied and stored; false when there is no fresh reading with a load,
   * or a gain would leave its range.
   */
  calibrate(vTarget_mv: number, iTarget_ma: number): boolean {
    const meter = this.meter;
    if (meter === undefined) return false;
    const before = meter.calibration();
    const gains = meter.calibrate(vTarget_mv, iTarget_ma);
    if (gains === undefined) return false;
    if (this.setGains(gains)) return true;
    meter.setCalibration(before); // not stored: not applied either
    return false;
  }
}

/** An empty day_list or month_list. */
const NONE: readonly never[] = Object.freeze([]);

/**
 * A v1 get_realtime answer: values in thousandths written with 6 decimals (mV as V, mA as A, mW as
 * W, Wh as kWh: 1.500000), as HS110 v1 firmware writes every emeter value, a whole one and 0
 * included (PROTOCOL §2.8; python-kasa requires floats there). One object with four numbers, not an
 * object of four objects: less heap per answer in flight on an ESP8266.
 */
export class V1Realtime implements JsonWritable {
  /** A method's result (dispatcher.ts MethodResult); its own err_code, so the dispatcher adds none. */
  [member: string]: unknown;
  readonly err_code = 0;

  constructor(
    private readonly voltage: number,
    private readonly current: number,
    private readonly power: number,
    private readonly total: number,
  ) {}

  writeJson(out: JsonOut): void {
    out.byte(0x7b);
    out.string("voltage");
    out.byte(0x3a);
    out.thousandths(this.voltage);
    out.byte(0x2c);
    out.string("current");
    out.byte(0x3a);
    out.thousandths(this.current);
    out.byte(0x2c);
    out.string("power");
    out.byte(0x3a);
    out.thousandths(this.power);
    out.byte(0x2c);
    out.string("total");
    out.byte(0x3a);
    out.thousandths(this.total);
    out.byte(0x2c);
    out.string("err_code");
    out.byte(0x3a);
    out.number(0);
    out.byte(0x7d);
  }
}

/**
 * A day_list or month_list written straight from a copy of the record's values (no object per
 * entry): `{"year":…,"month":…,"day":…,"energy_wh":…}` (v2, Wh) or `…"energy":…` (v1, kWh with 6
 * decimals), entries with energy only, in order; month 0 lists months (no `day`).
 */
class StatList implements JsonWritable {
  constructor(
    private readonly year: number,
    private readonly month: number,
    /** Wh of day (or month) 1, 2, ... */
    private readonly values: Uint32Array,
    private readonly wh: boolean,
  ) {}

  writeJson(out: JsonOut): void {
    const values = this.values;
    let listed = 0;
    out.byte(0x5b);
    for (let i = 0; i < values.length; i++) {
      if (values[i] === 0) continue;
      if (listed++ > 0) out.byte(0x2c);
      out.byte(0x7b);
      out.string("year");
      out.byte(0x3a);
      out.number(this.year);
      member(out, "month");
      out.number(this.month === 0 ? i + 1 : this.month);
      if (this.month !== 0) {
        member(out, "day");
        out.number(i + 1);
      }
      if (this.wh) {
        member(out, "energy_wh");
        out.number(values[i]);
      } else {
        member(out, "energy");
        out.thousandths(values[i]);
      }
      out.byte(0x7d);
    }
    out.byte(0x5d);
  }
}

function validGains(g: Gains): boolean {
  return inRange(g.voltage) && inRange(g.current) && inRange(g.power);
}

function inRange(g: number): boolean {
  return Number.isFinite(g) && g >= GAIN_MIN && g <= GAIN_MAX;
}

/** "v,i,p" in parts per million, as setGains writes it; undefined when absent or not three gains in range. */
function readGains(text: string): Gains | undefined {
  if (text === "") return undefined;
  const parts = text.split(",");
  if (parts.length !== 3) return undefined;
  const g = { voltage: Number(parts[0]) / PPM, current: Number(parts[1]) / PPM, power: Number(parts[2]) / PPM };
  return validGains(g) ? g : undefined;
}
