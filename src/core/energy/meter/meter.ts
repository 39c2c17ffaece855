// The energy meter as the rest of the core sees it: one `MeterDriver` per chip (cse7766.ts for the
// UART chip, hlw8012.ts for the pulse chips), integer readings in the Kasa v2 units, an energy
// counter that only grows, calibration gains as plain numbers, and counters of everything rejected.
//
// Every buffer is bounded, every counter saturates at COUNTER_MAX, nothing here allocates per
// byte or per pulse: an ESP8266 runs this in a 32 KB JS heap next to the Kasa server.

import type { ClockPort } from "../../../ports/ports.js";

// ---- ports ----------------------------------------------------------------------------------

// The chip-facing ports are the platform's (src/ports/ports.ts); re-exported for the drivers.
export type { DigitalOutPort, PulseCountPort, SerialReceivePort } from "../../../ports/ports.js";

/** The drivers only need the monotonic half of the clock port. */
export type MonotonicClock = Pick<ClockPort, "monotonic">;

// ---- readings -----------------------------------------------------------------------------------

/**
 * One accepted measurement, integers in the Kasa v2 units (PROTOCOL §2.8: voltage_mv, current_ma,
 * power_mw) plus the energy counter. `power_mw` is active power; it is 0 with no load, and then
 * `current_ma` is 0 too (the chips' current channels read noise without a load: ESPHome and
 * Tasmota report 0 A there as well).
 */
export interface Reading {
  voltage_mv: number;
  current_ma: number;
  power_mw: number;
  /** The energy counter (see `MeterDriver.energy_mwh`) when this reading was taken. */
  energy_mwh: number;
  /** Monotonic milliseconds (ClockPort.monotonic) when it was taken. */
  at: number;
}

/**
 * Calibration: each quantity as the chip's constants give it, times its gain. 1 = the datasheet
 * defaults (or, on the CSE7766, the factory coefficients the chip sends). Persisted by the caller.
 */
export interface Gains {
  voltage: number;
  current: number;
  power: number;
}

export const DEFAULT_GAINS: Gains = Object.freeze({ voltage: 1, current: 1, power: 1 });

/**
 * A gain outside this range means the wrong chip or board was configured, not a tolerance to trim
 * (resistor and reference tolerances are a few per cent; Tasmota's calibration doc says the same of
 * its values when the chip type is wrong). Calibrations that would need more are refused.
 */
export const GAIN_MIN = 1 / 16;
export const GAIN_MAX = 16;

/** Readings outside these are rejected and counted as `outOfRange`, never reported. */
export interface MeterLimits {
  minVoltage_mv: number;
  maxVoltage_mv: number;
  maxCurrent_ma: number;
  maxPower_mw: number;
}

/**
 * Limits for a plug rated `ratedCurrent_ma`:
 * - voltage 60-300 V: 100-240 V mains ±10 % is 90-264 V; the plugs' own supplies (85-265 V input)
 *   cannot keep the ESP alive much below 60 V, so a lower reading is a measurement error, and 300 V
 *   leaves room for a surge on a 240 V grid while excluding the absurd (Tasmota's captured
 *   "wrong voltage" frame reads 0.4 V, see the tests);
 * - current 1.25 × rating: a brief overload is real and must be seen (the plug may act on it);
 *   beyond that the shunt and the relay are out of their range;
 * - power: that current at 250 V (the top of the 230 V band): 5 kW for a 16 A plug. Tasmota's
 *   CSE7766 bound was 4 kW (issue #7155) and became 5.5 kW for the 25 A Pow R3 (issue #14156).
 */
export function meterLimits(ratedCurrent_ma: number): MeterLimits {
  const maxCurrent_ma = Math.round(ratedCurrent_ma * 1.25);
  return Object.freeze({
    minVoltage_mv: 60_000,
    maxVoltage_mv: 300_000,
    maxCurrent_ma,
    maxPower_mw: maxCurrent_ma * 250,
  });
}

/** A 16 A plug (Sonoff S31, Pow R2, the EU Tuya plugs): 60-300 V, 20 A, 5 kW. */
export const DEFAULT_LIMITS: MeterLimits = meterLimits(16_000);

/**
 * What was received and what was thrown away. Every counter saturates at COUNTER_MAX (it stays
 * there rather than wrapping, so a ratio never goes backwards).
 */
export interface MeterStats {
  /** CSE7766: frames with a valid header, check byte and checksum. HLW: measurement windows read. */
  framesOk: number;
  /** CSE7766: 24-byte candidates whose checksum failed. */
  badChecksum: number;
  /** CSE7766: bytes that could not start a frame (garbage, a header without the 0x5A check byte, a frame cut by a gap). */
  badSync: number;
  /** CSE7766: checksummed frames whose state byte says the chip cannot measure (coefficients lost, voltage cycle over range). */
  chipFault: number;
  /** Readings, pulse counts or energy steps outside the limits. */
  outOfRange: number;
  /** Times the chip went silent (CSE7766: no valid frame for CSE_SILENT_MS; HLW: no CF1 edge in a voltage phase). */
  silentPeriods: number;
}

/** 2^32 - 1: about 6.8 years of CSE7766 frames at 20 a second. */
export const COUNTER_MAX = 0xffffffff;

/** Counts one event in `stats[key]`, saturating. */
export function bump(stats: MeterStats, key: keyof MeterStats, by = 1): void {
  stats[key] = Math.min(COUNTER_MAX, stats[key] + by);
}

/**
 * The meter driver the core uses. Energy is a counter that only grows (`energy_mwh`), not a
 * callback: whoever keeps day and month statistics samples it when it wants (once a minute, on a
 * `get_realtime`), takes differences, and loses nothing when it is busy or not wired yet; several
 * readers can share it; and the ESP8266 makes no call per frame for it. Milliwatt-hours keep the
 * small increments (a 5 W load adds a watt-hour every 12 minutes) as an integer; a double holds
 * exact integers up to 2^53 mWh (9 × 10^9 kWh), where the counter would saturate.
 */
export interface MeterDriver {
  /** The chip, e.g. "CSE7766", "HLW8012", "BL0937". */
  readonly model: string;
  /** Starts listening to the chip (idempotent). */
  start(): void;
  /** Stops (idempotent); `latest()` is undefined until started again; the energy counter is kept. */
  stop(): void;
  /**
   * The last accepted reading, or undefined: before the first one, while the chip is silent, or
   * when nothing was accepted for the driver's stale timeout (CSE_STALE_MS; for the HLW chips
   * twice their longest measurement cycle) because every reading since was rejected.
   */
  latest(): Reading | undefined;
  /** Energy counted since the driver was made, in mWh (floor of the exact sum); never decreases. */
  energy_mwh(): number;
  /** The gains in use. */
  calibration(): Gains;
  /** Replaces the gains; false (and nothing changed) unless each is finite and within GAIN_MIN..GAIN_MAX. */
  setCalibration(gains: Gains): boolean;
  /**
   * New gains from the current raw readings against a known resistive load: each gain becomes
   * target / raw. `pTarget_mw` defaults to vTarget × iTarget (power factor 1). Applies and returns
   * them; undefined (nothing changed) when there is no fresh reading with a load, a target is not
   * positive, or a gain would leave GAIN_MIN..GAIN_MAX.
   */
  calibrate(vTarget_mv: number, iTarget_ma: number, pTarget_mw?: number): Gains | undefined;
  /** A copy of the counters. */
  stats(): MeterStats;
}

function validGain(g: number): boolean {
  return typeof g === "number" && Number.isFinite(g) && g >= GAIN_MIN && g <= GAIN_MAX;
}

/** What both drivers share: gains, limits, the last reading, the energy sum, silence and the counters. */
export abstract class MeterBase implements MeterDriver {
  abstract readonly model: string;
  protected readonly counters: MeterStats = { framesOk: 0, badChecksum: 0, badSync: 0, chipFault: 0, outOfRange: 0, silentPeriods: 0 };
  protected gains: Gains = DEFAULT_GAINS;
  protected readonly limits: MeterLimits;
  private energy = 0;
  private silent = false;
  /** The last accepted reading (null: none), and what it was before the gains, for `calibrate`. */
  private last: { v: number; i: number; p: number; at: number; rawV: number; rawI: number; rawP: number } | null = null;

  constructor(
    protected readonly clock: MonotonicClock,
    private readonly staleMs: number,
    options: { gains?: Gains; limits?: MeterLimits },
  ) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    if (options.gains !== undefined) this.setCalibration(options.gains);
  }

  abstract start(): void;
  abstract stop(): void;

  /** Lets a driver notice silence lazily (the CSE7766 needs no timer for it). */
  protected poll(_now: number): void {}

  latest(): Reading | undefined {
    const now = this.clock.monotonic();
    this.poll(now);
    const r = this.last;
    if (r === null || this.silent || now - r.at > this.staleMs) return undefined;
    return { voltage_mv: r.v, current_ma: r.i, power_mw: r.p, energy_mwh: this.energy_mwh(), at: r.at };
  }

  energy_mwh(): number {
    return Math.floor(this.energy);
  }

  calibration(): Gains {
    return this.gains;
  }

  setCalibration(gains: Gains): boolean {
    if (!validGain(gains.voltage) || !validGain(gains.current) || !validGain(gains.power)) return false;
    this.gains = Object.freeze({ voltage: gains.voltage, current: gains.current, power: gains.power });
    return true;
  }

  calibrate(vTarget_mv: number, iTarget_ma: number, pTarget_mw?: number): Gains | undefined {
    const r = this.last;
    if (this.latest() === undefined || r === null || !(r.rawV > 0 && r.rawI > 0 && r.rawP > 0)) return undefined;
    const pTarget = pTarget_mw ?? (vTarget_mv * iTarget_ma) / 1000;
    if (!(vTarget_mv > 0 && iTarget_ma > 0 && pTarget > 0)) return undefined;
    const gains = { voltage: vTarget_mv / r.rawV, current: iTarget_ma / r.rawI, power: pTarget / r.rawP };
    return this.setCalibration(gains) ? this.gains : undefined;
  }

  stats(): MeterStats {
    this.poll(this.clock.monotonic());
    return { ...this.counters };
  }

  /**
   * Offers raw (ungained) values; with the gains applied they become the reading if every one is
   * within the limits, else they are counted as `outOfRange`. Returns whether they were accepted.
   */
  protected publish(rawV_mv: number, rawI_ma: number, rawP_mw: number, at: number): boolean {
    const g = this.gains;
    const v = Math.round(rawV_mv * g.voltage);
    const i = Math.round(rawI_ma * g.current);
    const p = Math.round(rawP_mw * g.power);
    const l = this.limits;
    // written so that NaN fails every test
    if (!(v >= l.minVoltage_mv && v <= l.maxVoltage_mv && i >= 0 && i <= l.maxCurrent_ma && p >= 0 && p <= l.maxPower_mw)) {
      bump(this.counters, "outOfRange");
      return false;
    }
    this.last = { v, i, p, at, rawV: rawV_mv, rawI: rawI_ma, rawP: rawP_mw };
    return true;
  }

  /**
   * Counts `pulses` of the chip's energy output worth `mwhPerPulse` each (gains not yet applied),
   * unless they are more than the power limit allows in `elapsedMs` (a glitch on the line, a
   * corrupted counter): then they are counted as `outOfRange` and dropped. Two pulses of slack
   * cover a window that caught the edges on both of its ends.
   */
  protected countPulses(pulses: number, mwhPerPulse: number, elapsedMs: number): boolean {
    const mwhPerPulseGained = mwhPerPulse * this.gains.power;
    const most = (this.limits.maxPower_mw * elapsedMs) / 3_600_000 / mwhPerPulseGained + 2;
    if (!(pulses >= 0 && pulses <= most)) {
      bump(this.counters, "outOfRange");
      return false;
    }
    this.energy = Math.min(Number.MAX_SAFE_INTEGER, this.energy + pulses * mwhPerPulseGained);
    return true;
  }

  /** The chip was heard (a valid frame, edges on CF1): silence, if any, is over. */
  protected heard(): void {
    this.silent = false;
  }

  /** The chip went silent: counted once per silent period; `latest()` is undefined until it is heard again. */
  protected goSilent(): void {
    if (this.silent) return;
    this.silent = true;
    bump(this.counters, "silentPeriods");
  }

  /** Forgets the reading (stop, restart). */
  protected forget(): void {
    this.last = null;
    this.silent = false;
  }
}
