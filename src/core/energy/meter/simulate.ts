// Simulated meter chips for the host target, the simulator and the tests: a load profile (watts
// over time at a mains voltage) becomes the signal the real chip would put on its pins, the
// CSE7766's packets or the HLW8012/BL0937's pulse counts, and that goes through the real driver.
// The formulas are the datasheets' in the forward direction (the drivers solve them the other
// way); nothing here uses Node, so the Moddable simulator build can use it too.

import type { TimerHandle, TimerPort } from "../../../ports/ports.js";
import { CSE_ADJ, CSE_CHECK_BYTE, CSE_FRAME_BYTES, CSE_STATE, Cse7766Driver, cseChecksum, type Cse7766Frame } from "./cse7766.js";
import { DEFAULT_HLW_BOARD, HLW_CHIPS, Hlw8012Driver, type HlwBoard, type HlwModel } from "./hlw8012.js";
import type { DigitalOutPort, Gains, MeterDriver, MonotonicClock, PulseCountPort, SerialReceivePort } from "./meter.js";

// ---- loads ------------------------------------------------------------------------------------

/** What the plug feeds at one instant: RMS volts and amps, active watts. */
export interface Load {
  readonly volts: number;
  readonly amps: number;
  readonly watts: number;
}

/** The mains voltage a simulated chip sees unless told otherwise (Europe's 230 V). */
export const DEFAULT_MAINS_VOLTS = 230;

/** The load at `t` milliseconds after the simulation started. */
export type LoadProfile = (t: number) => Load;

/** A load of `watts` at `volts` and a power factor (1: resistive); the current follows. */
export function load(watts: number, volts = DEFAULT_MAINS_VOLTS, powerFactor = 1): Load {
  return Object.freeze({ volts, watts, amps: watts > 0 ? watts / (volts * powerFactor) : 0 });
}

export function constantLoad(watts: number, volts = DEFAULT_MAINS_VOLTS, powerFactor = 1): LoadProfile {
  const l = load(watts, volts, powerFactor);
  return () => l;
}

/**
 * Watts over time as steps: each [t, watts] holds from t (ms) to the next point; before the first
 * point the first value. With `repeat` and two or more points the profile starts over: the last
 * point's time is the length of the cycle (its watts are not used). The host target reads these
 * pairs from a file (src/host/load.ts), the simulator from its board's config.
 */
export function wattsOverTime(points: ReadonlyArray<readonly [number, number]>, volts = DEFAULT_MAINS_VOLTS, powerFactor = 1, repeat = false): LoadProfile {
  const times = points.map((p) => p[0]);
  const loads = points.map((p) => load(p[1], volts, powerFactor));
  if (loads.length === 0) {
    const idle = load(0, volts, powerFactor);
    return () => idle;
  }
  const cycling = repeat && loads.length > 1;
  const steps = cycling ? loads.length - 1 : loads.length;
  const cycle = times[times.length - 1];
  return (t) => {
    const at = cycling ? ((t % cycle) + cycle) % cycle : t;
    // the last step starting at or before `at` (a simulated chip asks every few ms: no linear scan)
    let lo = 0;
    let hi = steps - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return loads[lo];
  };
}

/**
 * `profile` behind the plug's relay: while `on()` is false no current flows, and the chip still
 * sees the mains voltage (the host's and the simulator's load).
 */
export function behindRelay(profile: LoadProfile, on: () => boolean): LoadProfile {
  let off: Load | undefined;
  return (t) => {
    const l = profile(t);
    if (on()) return l;
    if (off === undefined || off.volts !== l.volts) off = load(0, l.volts);
    return off;
  };
}

/** A chip that measures `true × error` (before calibration): what calibration has to undo. */
export type ChipError = Gains;

const NO_ERROR: ChipError = Object.freeze({ voltage: 1, current: 1, power: 1 });

// ---- CSE7766 ----------------------------------------------------------------------------------

/**
 * Factory coefficients (the parameter registers) of a real chip: ESPurna's captured Sonoff packet
 * `55 5A 02 E9 50 ... 4F 44 F8 ...` (code/espurna/sensors/CSE7766Sensor.h): 190800, 16030, 5195000.
 */
export const CSE7766_TYPICAL = Object.freeze({ voltageParam: 190_800, currentParam: 16_030, powerParam: 5_195_000 });

export type Cse7766Coefficients = typeof CSE7766_TYPICAL;

/** Cycle registers are 24 bits of microseconds: a longer period "exceeds range" (datasheet State REG). */
const CYCLE_MAX = 0xffffff;

/** The 24 bytes of a packet with these registers, check byte and checksum included (datasheet packet table). */
export function encodeCse7766Frame(r: Cse7766Frame): Uint8Array {
  const f = new Uint8Array(CSE_FRAME_BYTES);
  const put24 = (at: number, v: number) => {
    f[at] = (v >>> 16) & 0xff;
    f[at + 1] = (v >>> 8) & 0xff;
    f[at + 2] = v & 0xff;
  };
  f[0] = r.state;
  f[1] = CSE_CHECK_BYTE;
  put24(2, r.voltageParam);
  put24(5, r.voltageCycle);
  put24(8, r.currentParam);
  put24(11, r.currentCycle);
  put24(14, r.powerParam);
  put24(17, r.powerCycle);
  f[20] = r.adj;
  f[21] = (r.cf >>> 8) & 0xff;
  f[22] = r.cf & 0xff;
  f[23] = cseChecksum(f);
  return f;
}

/** One of the chip's internal period measurements: completed periods, the last one's length, the one under way. */
class Period {
  private phase = 0;
  /** The register: the last complete period in µs. */
  cycle = CYCLE_MAX;
  private sinceUs = Infinity;

  /** Runs `ms` at `value` (the period is param / value µs); returns the periods completed. */
  advance(param: number, value: number, ms: number): number {
    const us = ms * 1000;
    if (!(value > 0)) {
      this.sinceUs += us;
      return 0;
    }
    const periodUs = param / value;
    const total = this.phase + us / periodUs;
    const n = Math.floor(total);
    this.phase = total - n;
    if (n > 0) {
      this.cycle = Math.min(CYCLE_MAX, Math.round(periodUs));
      this.sinceUs = this.phase * periodUs;
    } else this.sinceUs += us;
    return n;
  }

  /** The period under way no longer fits the register. */
  get overRange(): boolean {
    return this.sinceUs > CYCLE_MAX;
  }
}

/**
 * A CSE7766 on a load profile: `frame()` is the packet it sends at the clock's current time, with
 * the update bits, over-range flags and CF pulse count a real chip would have produced since the
 * previous one (call it in time order, once per packet).
 */
export class Cse7766Chip {
  private readonly origin: number;
  private last: number;
  private readonly v = new Period();
  private readonly i = new Period();
  private readonly p = new Period();
  private cf = 0;
  private cfWrapped = false;

  constructor(
    private readonly profile: LoadProfile,
    private readonly clock: MonotonicClock,
    private readonly coefficients: Cse7766Coefficients = CSE7766_TYPICAL,
    private readonly error: ChipError = NO_ERROR,
  ) {
    this.origin = this.last = clock.monotonic();
  }

  frame(): Uint8Array {
    const now = this.clock.monotonic();
    const ms = now - this.last;
    this.last = now;
    const l = this.profile(now - this.origin);
    const c = this.coefficients;
    const e = this.error;
    // V = Vparam / Vcycle and the like (datasheet formulas): each period is param / value µs.
    const vUpdated = this.v.advance(c.voltageParam, l.volts * e.voltage, ms) > 0;
    const iUpdated = this.i.advance(c.currentParam, l.amps * e.current, ms) > 0;
    // The Power REG is the CF period: every completed one is a pulse in the PF REG.
    const pulses = this.p.advance(c.powerParam, l.watts * e.power, ms);
    this.cf += pulses;
    if (this.cf >= 0x10000) {
      this.cf %= 0x10000;
      this.cfWrapped = true;
    }
    const flags =
      (this.v.overRange ? CSE_STATE.VOLTAGE_OVER_RANGE : 0) |
      (this.i.overRange ? CSE_STATE.CURRENT_OVER_RANGE : 0) |
      (this.p.overRange ? CSE_STATE.POWER_OVER_RANGE : 0);
    return encodeCse7766Frame({
      state: flags === 0 ? CSE_STATE.NORMAL : CSE_STATE.FLAGS | flags,
      voltageParam: c.voltageParam,
      voltageCycle: this.v.cycle,
      currentParam: c.currentParam,
      currentCycle: this.i.cycle,
      powerParam: c.powerParam,
      powerCycle: this.p.cycle,
      // bit 0 is reserved and set in every captured packet; bit 7 stays set once the count wrapped
      adj:
        0x01 |
        (this.cfWrapped ? CSE_ADJ.PF_OVERFLOW : 0) |
        (vUpdated ? CSE_ADJ.VOLTAGE_UPDATED : 0) |
        (iUpdated ? CSE_ADJ.CURRENT_UPDATED : 0) |
        (pulses > 0 ? CSE_ADJ.POWER_UPDATED : 0),
      cf: this.cf,
    });
  }
}

/**
 * The datasheet's packet interval. 24 bytes of 11 bits at 4800 baud take 55 ms, so on the wire
 * the packets follow each other with no gap; the simulation sends one every 50 ms.
 */
export const CSE_FRAME_INTERVAL_MS = 50;

export interface CseSerialOptions {
  periodMs?: number;
  /** Delivered in chunks of this many bytes (a UART driver hands over what its FIFO holds). */
  chunkBytes?: number;
  /** Changes a packet before it is sent (corruption, garbage, nothing: an empty array). */
  mangle?: (frame: Uint8Array, index: number) => Uint8Array;
}

/** The UART from a simulated CSE7766: a SerialReceivePort for the driver. `muted` silences the chip. */
export class SimulatedCseSerial implements SerialReceivePort {
  muted = false;
  private timer: TimerHandle | undefined;
  private sent = 0;

  constructor(
    private readonly chip: Cse7766Chip,
    private readonly timers: TimerPort,
    private readonly options: CseSerialOptions = {},
  ) {}

  listen(onBytes: (bytes: Uint8Array) => void): void {
    this.close();
    const chunk = this.options.chunkBytes ?? CSE_FRAME_BYTES;
    this.timer = this.timers.every(this.options.periodMs ?? CSE_FRAME_INTERVAL_MS, () => {
      // the chip measures whether anyone listens; a muted one sends nothing
      let bytes = this.chip.frame();
      if (this.muted) return;
      if (this.options.mangle !== undefined) bytes = this.options.mangle(bytes, this.sent);
      this.sent++;
      for (let at = 0; at < bytes.length; at += chunk) onBytes(bytes.subarray(at, at + chunk));
    });
  }

  close(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
  }
}

// ---- HLW8012 / BL0937 ---------------------------------------------------------------------------

/** Integration step: the profile is looked at this often between two reads. */
const STEP_MS = 10;

export interface HlwChipOptions {
  board?: Partial<HlwBoard>;
  error?: ChipError;
  /**
   * After a SEL switch CF1 keeps giving the previous quantity this long (a stand-in for the
   * unsettled output the drivers discard). 0 switches at once.
   */
  settleMs?: number;
}

/**
 * An HLW8012 / BL0937 on a load profile, with the pins a board wires to the ESP: `cf` and `cf1`
 * count the edges the chip put out since their last read, `sel` is its SEL input. Frequencies from
 * the datasheet formulas (hlw8012.ts): f_CF = kPower·V1·V2·cos φ / Vref², f_CFI = kCurrent·V1 / Vref,
 * f_CFU = kVoltage·V2 / Vref, V1 = I·shunt, V2 = V / divider. `muted` stops both outputs.
 */
export class Hlw8012Chip {
  muted = false;
  readonly cf: PulseCountPort;
  readonly cf1: PulseCountPort;
  readonly sel: DigitalOutPort;
  private readonly origin: number;
  private readonly board: HlwBoard;
  private readonly error: ChipError;
  private readonly settleMs: number;
  private level = false;
  private previousLevel = false;
  private switchedAt = -Infinity;
  private cfAt: number;
  private cfPhase = 0;
  private cf1At: number;
  private cf1Phase = 0;
  private cf1Pending = 0;

  constructor(
    readonly model: HlwModel,
    private readonly profile: LoadProfile,
    private readonly clock: MonotonicClock,
    options: HlwChipOptions = {},
  ) {
    this.origin = this.cfAt = this.cf1At = clock.monotonic();
    this.board = { ...DEFAULT_HLW_BOARD, ...options.board };
    this.error = options.error ?? NO_ERROR;
    this.settleMs = options.settleMs ?? 200;
    this.cf = { read: () => this.readCf() };
    this.cf1 = {
      read: () => {
        this.runCf1();
        const n = this.cf1Pending;
        this.cf1Pending = 0;
        return n;
      },
    };
    this.sel = {
      write: (high) => {
        // edges so far were made in the old mode
        this.runCf1();
        if (high === this.level) return;
        this.previousLevel = this.level;
        this.level = high;
        this.switchedAt = this.clock.monotonic();
      },
    };
  }

  /** CF, CF1 in current mode and CF1 in voltage mode for a load (the chip's pins, in hertz). */
  frequencies(l: Load): { cf: number; current: number; voltage: number } {
    const chip = HLW_CHIPS[this.model];
    const b = this.board;
    const e = this.error;
    const v2 = (l.volts * e.voltage) / b.divider;
    // V1·V2·cos φ = P · shunt / divider
    const activeV1V2 = (l.watts * e.power * b.shunt_ohm) / b.divider;
    return {
      cf: (chip.kPower * activeV1V2) / (chip.vref * chip.vref),
      current: (chip.kCurrent * l.amps * e.current * b.shunt_ohm) / chip.vref,
      voltage: (chip.kVoltage * v2) / chip.vref,
    };
  }

  private readCf(): number {
    const now = this.clock.monotonic();
    let edges = this.cfPhase;
    for (let t = this.cfAt; t < now; t += STEP_MS) {
      const ms = Math.min(STEP_MS, now - t);
      if (!this.muted) edges += (this.frequencies(this.profile(t - this.origin)).cf * ms) / 1000;
    }
    this.cfAt = now;
    const n = Math.floor(edges);
    this.cfPhase = edges - n;
    return n;
  }

  private runCf1(): void {
    const now = this.clock.monotonic();
    const chip = HLW_CHIPS[this.model];
    let edges = this.cf1Phase;
    for (let t = this.cf1At; t < now; t += STEP_MS) {
      const ms = Math.min(STEP_MS, now - t);
      const esp = t < this.switchedAt + this.settleMs ? this.previousLevel : this.level;
      // what the chip's pin sees, through the board's inverter if it has one
      const pin = esp !== this.board.selInverted;
      const f = this.frequencies(this.profile(t - this.origin));
      if (!this.muted) edges += ((pin === chip.currentWhenSelHigh ? f.current : f.voltage) * ms) / 1000;
    }
    this.cf1At = now;
    const n = Math.floor(edges);
    this.cf1Phase = edges - n;
    this.cf1Pending += n;
  }
}

// ---- a whole simulated meter --------------------------------------------------------------------

/** The chips a simulated meter can be: the UART one or a pulse one. */
export type SimulatedChipModel = "CSE7766" | HlwModel;

/**
 * A real driver listening to a simulated chip on `profile`: what the host target (`--load`) and the
 * Moddable simulator build hand to createPlug as the plug's meter. The chip's signal (packets, pulse
 * counts) is made from the profile and decoded by the same driver code a device runs.
 */
export function simulatedMeter(model: SimulatedChipModel, profile: LoadProfile, timers: TimerPort, clock: MonotonicClock): MeterDriver {
  if (model === "CSE7766") {
    const serial = new SimulatedCseSerial(new Cse7766Chip(profile, clock), timers);
    return new Cse7766Driver({ serial, clock });
  }
  const chip = new Hlw8012Chip(model, profile, clock);
  return new Hlw8012Driver({ cf: chip.cf, cf1: chip.cf1, sel: chip.sel, timers, clock }, { model });
}
