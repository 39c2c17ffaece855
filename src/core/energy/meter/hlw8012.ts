// HLW8012 / CSE7759 and BL0937 / HJL-01 (Sonoff Pow R1, Gosund, BlitzWolf, many Tuya plugs): no
// bus, two pulse outputs. CF pulses at a frequency proportional to active power; CF1 at one
// proportional to RMS current or RMS voltage, chosen by the SEL input. Written from the chips'
// datasheets (frequency formulas below); cross-checked against ESPHome
// esphome/components/hlw8012 (hlw8012.cpp multipliers, sensor.py `model:` and defaults), Tasmota
// tasmota_xnrg_energy/xnrg_01_hlw8012.ino and xoseperez/hlw8012. Our own code.
//
// The driver counts edges over fixed windows (HLW_WINDOW_MS): a frequency is edges / time, which
// pulse-count hardware gives without timing each pulse. SEL alternates between a voltage phase and
// a current phase; the first window after each switch is discarded (CF1 is unstable while the chip
// switches, as ESPHome and Tasmota note; Tasmota waits 300 ms). A phase lasts until it has counted
// CF1_MIN_EDGES or reached its longest duration, so small currents get long phases and everything
// else short ones. Power comes from a history of CF counts, over the shortest recent span holding
// POWER_MIN_EDGES, which keeps resolution at a few watts (one CF pulse every 2 s at 5 W on an
// HLW8012) without slowing down at high loads.

import type { TimerHandle, TimerPort } from "../../../ports/ports.js";
import {
  bump, MeterBase, type DigitalOutPort, type Gains, type MeterLimits, type MonotonicClock, type PulseCountPort,
} from "./meter.js";

export type HlwModel = "HLW8012" | "CSE7759" | "BL0937" | "HJL-01";

/**
 * A chip's output formulas, in one form for all of them:
 *   f_CF  = kPower   × V1 × V2 / Vref²   (V1: RMS volts across the shunt, V2: RMS volts at the
 *   f_CFI = kCurrent × V1 / Vref          voltage input after the divider; CF follows V1·V2·cos φ,
 *   f_CFU = kVoltage × V2 / Vref          the active power)
 */
export interface HlwChip {
  readonly vref: number;
  readonly kPower: number;
  readonly kCurrent: number;
  readonly kVoltage: number;
  /** The SEL level at which CF1 gives the current (the other gives the voltage). */
  readonly currentWhenSelHigh: boolean;
}

/** HLW8012 datasheet: internal oscillator 3.579 MHz. */
const HLW8012_FOSC = 3_579_000;

const HLW8012: HlwChip = Object.freeze({
  // HLW8012 datasheet, electrical characteristics: internal reference 2.43 V.
  vref: 2.43,
  // HLW8012 datasheet, frequency output formulas: F_CF = 48·V1·V2·fosc / (128·Vref²),
  // F_CFI = 24·V1·fosc / (512·Vref), F_CFU = 2·V2·fosc / (512·Vref).
  kPower: (48 * HLW8012_FOSC) / 128,
  kCurrent: (24 * HLW8012_FOSC) / 512,
  kVoltage: (2 * HLW8012_FOSC) / 512,
  // SEL high selects current. The HLW8012 datasheet's pin table was not at hand here; three
  // independent drivers agree: ESPHome (writes SEL high in current mode, uninverted on the Sonoff
  // Pow), xoseperez/hlw8012 (currentWhen = HIGH) and Tasmota's Sonoff Pow template (SEL
  // "inverted", i.e. voltage on low).
  currentWhenSelHigh: true,
});

const BL0937: HlwChip = Object.freeze({
  // BL0937 datasheet V1.02 (Belling), p. 7, output frequency formulas: Vref 1.218 V,
  // F_CF = 1721506·V(V)·V(I)/Vref², F_CFI = 94638·V(I)/Vref, F_CFU = 15397·V(V)/Vref
  // (V1.01 revised the voltage one). ESPHome's BL0937 multipliers use the same numbers.
  vref: 1.218,
  kPower: 1_721_506,
  kCurrent: 94_638,
  kVoltage: 15_397,
  // BL0937 datasheet V1.02, SEL pin: 0 = current, 1 = voltage, the opposite of the HLW8012
  // (ESPHome documents inverting SEL for it, esphome.io PR #1670).
  currentWhenSelHigh: false,
});

/**
 * The chips by model. CSE7759 = HLW8012 (ESPHome: "same reference specs"). HJL-01 = BL0937:
 * Tasmota uses one set of ratios for both and xoseperez/hlw8012's HJL-01 example selects current
 * with SEL low; we have no HJL-01 datasheet to confirm its constants.
 */
export const HLW_CHIPS: Readonly<Record<HlwModel, HlwChip>> = Object.freeze({
  HLW8012,
  CSE7759: HLW8012,
  BL0937,
  "HJL-01": BL0937,
});

/** The board around the chip. Defaults as ESPHome's: a 1 mΩ shunt, a 2351:1 divider (5 × 470 kΩ over 1 kΩ). */
export interface HlwBoard {
  /** (upstream + downstream) / downstream of the voltage divider. */
  divider: number;
  /** Current shunt in ohms. */
  shunt_ohm: number;
  /** SEL driven through an inverting transistor (Tasmota "SEL_i", OpenBeken issue #755). */
  selInverted: boolean;
}

export const DEFAULT_HLW_BOARD: HlwBoard = Object.freeze({ divider: 2351, shunt_ohm: 0.001, selInverted: false });

/** Mains quantities per hertz of each output, gains 1: the formulas above solved for V, I and P. */
export interface HlwScales {
  wattsPerHz: number;
  ampsPerHz: number;
  voltsPerHz: number;
}

export function hlwScales(chip: HlwChip, board: HlwBoard): HlwScales {
  return {
    wattsPerHz: (chip.vref * chip.vref * board.divider) / (chip.kPower * board.shunt_ohm),
    ampsPerHz: chip.vref / (chip.kCurrent * board.shunt_ohm),
    voltsPerHz: (chip.vref * board.divider) / chip.kVoltage,
  };
}

/** Both outputs are read and SEL is decided this often. */
export const HLW_WINDOW_MS = 500;
/** Windows discarded after each SEL switch. */
const SETTLE_WINDOWS = 1;
/**
 * Measured time per phase (after the settling window): at least minMs; then until CF1_MIN_EDGES
 * were counted or maxMs. Voltage is always hundreds of hertz, so its phase is short; a current of
 * 20 mA is 1.5 Hz on an HLW8012, so the current phase may take up to 10 s.
 */
const PHASE = Object.freeze({
  voltage: Object.freeze({ minMs: 1000, maxMs: 2000 }),
  current: Object.freeze({ minMs: 1000, maxMs: 10_000 }),
});
/** Counting error is one edge: 512 edges make it 0.2 %. */
const CF1_MIN_EDGES = 512;
const POWER_MIN_EDGES = 512;
/** CF history: 120 windows, one minute. At 5 W an HLW8012 gives about 29 pulses in it. */
const HISTORY = 120;
/** No CF pulse for this long is no load (Tasmota waits 10 s too: a 1 W pulse on an HLW8012 takes 10 s). */
const NO_LOAD_MS = 10_000;
/** The longest a full voltage + current cycle takes. */
const CYCLE_MAX_MS = (2 * SETTLE_WINDOWS + 1) * HLW_WINDOW_MS + PHASE.voltage.maxMs + PHASE.current.maxMs;
/**
 * A measured voltage or current is used for this long: one longest cycle plus a window, so one
 * rejected measurement (or a silent chip) ends the reading within a cycle, as `latest()` documents.
 */
export const HLW_STALE_MS = CYCLE_MAX_MS + HLW_WINDOW_MS;

export interface HlwPorts {
  cf: PulseCountPort;
  cf1: PulseCountPort;
  sel: DigitalOutPort;
  timers: TimerPort;
  clock: MonotonicClock;
}

export interface HlwOptions {
  model: HlwModel;
  board?: Partial<HlwBoard>;
  gains?: Gains;
  limits?: MeterLimits;
}

type Mode = "voltage" | "current";

function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

export class Hlw8012Driver extends MeterBase {
  readonly model: HlwModel;
  readonly scales: HlwScales;
  private readonly currentLevel: boolean;
  private timer: TimerHandle | undefined;
  private running = false;
  private lastTickAt = 0;
  private mode: Mode = "voltage";
  private phaseWindows = 0;
  private phaseEdges = 0;
  private phaseMs = 0;
  private voltRaw = 0;
  private voltAt = -Infinity;
  private ampRaw = 0;
  private ampAt = -Infinity;
  /** CF pulses per window: a few thousand at most (the chips' CF is a few kHz at full scale), so 16 bits, clamped. */
  private readonly histCount = new Uint16Array(HISTORY);
  private readonly histMs = new Uint16Array(HISTORY);
  private histHead = 0;
  private histSize = 0;

  constructor(private readonly ports: HlwPorts, options: HlwOptions) {
    // the reading is renewed every window while the voltage and current are fresh
    super(ports.clock, 2 * HLW_WINDOW_MS, options);
    this.model = options.model;
    const chip = HLW_CHIPS[options.model];
    const board = { ...DEFAULT_HLW_BOARD, ...options.board };
    this.scales = hlwScales(chip, board);
    this.currentLevel = chip.currentWhenSelHigh !== board.selInverted;
  }

  /** The SEL level that makes CF1 give `mode`. */
  selLevel(mode: Mode): boolean {
    return mode === "current" ? this.currentLevel : !this.currentLevel;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.forget();
    this.voltAt = this.ampAt = -Infinity;
    this.histSize = 0;
    this.enter("voltage");
    // edges from before the start are not ours
    this.ports.cf.read();
    this.ports.cf1.read();
    this.lastTickAt = this.clock.monotonic();
    this.timer = this.ports.timers.every(HLW_WINDOW_MS, this);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.ports.timers.cancel(this.timer);
    this.timer = undefined;
    this.forget();
  }

  private enter(mode: Mode): void {
    this.mode = mode;
    this.phaseWindows = this.phaseEdges = this.phaseMs = 0;
    this.ports.sel.write(this.selLevel(mode));
  }

  /** Its window timer (a TimerTarget). */
  fired(): void {
    this.tick();
  }

  private tick(): void {
    const now = this.clock.monotonic();
    const ms = now - this.lastTickAt;
    this.lastTickAt = now;
    const cf = this.ports.cf.read();
    const cf1 = this.ports.cf1.read();
    if (ms <= 0) return;
    if (isCount(cf) && this.countPulses(cf, this.scales.wattsPerHz / 3.6, ms)) {
      bump(this.counters, "framesOk");
      this.pushWindow(cf, ms);
    } else {
      // (countPulses counted its own rejection) No power until CF makes sense again: a stale
      // history must not keep the last good value alive.
      if (!isCount(cf)) bump(this.counters, "outOfRange");
      this.histSize = 0;
    }
    if (isCount(cf1)) this.cf1Window(cf1, ms, now);
    else {
      bump(this.counters, "outOfRange");
      this.enter(this.mode);
    }
    if (now - this.voltAt > HLW_STALE_MS || now - this.ampAt > HLW_STALE_MS) return;
    const hz = this.powerHz();
    if (hz === undefined) return;
    const rawP = hz * this.scales.wattsPerHz * 1000;
    // no active power: the current channel reads noise (as ESPHome and Tasmota treat it)
    this.publish(this.voltRaw, rawP === 0 ? 0 : this.ampRaw, rawP, now);
  }

  private cf1Window(edges: number, ms: number, now: number): void {
    if (++this.phaseWindows <= SETTLE_WINDOWS) return;
    this.phaseEdges += edges;
    this.phaseMs += ms;
    const limits = PHASE[this.mode];
    // without load there is no current to wait for
    const maxMs = this.mode === "current" && this.powerHz() === 0 ? limits.minMs : limits.maxMs;
    if (this.phaseMs < limits.minMs || (this.phaseEdges < CF1_MIN_EDGES && this.phaseMs < maxMs)) return;
    const hz = (this.phaseEdges * 1000) / this.phaseMs;
    const l = this.limits;
    if (this.mode === "voltage") {
      // Mains is there whenever the plug runs, so CF1 must pulse in a voltage phase: no edge at
      // all is a silent chip (or a dead CF1 line), whatever CF does.
      if (this.phaseEdges === 0) this.goSilent();
      else {
        this.heard();
        const raw = hz * this.scales.voltsPerHz * 1000;
        const v = raw * this.gains.voltage;
        if (v >= l.minVoltage_mv && v <= l.maxVoltage_mv) {
          this.voltRaw = raw;
          this.voltAt = now;
        } else bump(this.counters, "outOfRange");
      }
      this.enter("current");
    } else {
      const raw = hz * this.scales.ampsPerHz * 1000;
      if (raw * this.gains.current <= l.maxCurrent_ma) {
        this.ampRaw = raw;
        this.ampAt = now;
      } else bump(this.counters, "outOfRange");
      this.enter("voltage");
    }
  }

  /**
   * Adds a window to the CF history. A count far from what the history predicts is a change of
   * load: the history restarts from this window, so a step shows at once instead of being averaged
   * away. Three edges plus 20 % is well outside counting jitter (one edge).
   */
  private pushWindow(count: number, ms: number): void {
    const before = this.powerHz();
    if (before !== undefined) {
      const expected = (before * ms) / 1000;
      if (Math.abs(count - expected) > 3 + 0.2 * expected) this.histSize = 0;
    }
    if (ms > 0xffff) {
      // the timer was starved for over a minute: no window to trust
      this.histSize = 0;
      return;
    }
    this.histHead = (this.histHead + 1) % HISTORY;
    this.histCount[this.histHead] = count < 0xffff ? count : 0xffff;
    this.histMs[this.histHead] = ms;
    if (this.histSize < HISTORY) this.histSize++;
  }

  /**
   * CF frequency now, or undefined before the first window. Over the shortest recent span with
   * POWER_MIN_EDGES (the whole history when there are fewer), bounded by the pulse still awaited:
   * after Z ms without a pulse the period under way is at least Z, so the frequency is at most
   * 1000 / Z (a steady load never hits this bound; a load switched off fades at once). No pulse for
   * NO_LOAD_MS is no load. The span never reaches back past such a no-load gap: a small load
   * switched on reads its power within seconds, not after a minute of history averaged with the
   * time it was off (8 W on a BL0937 after 40 s off read 0.3 W at 2 s and 4 W at 30 s before).
   */
  private powerHz(): number | undefined {
    if (this.histSize === 0) return undefined;
    let zeroMs = 0;
    let edges = 0;
    let ms = 0;
    let trailing = true;
    /** Empty windows just walked, before the load that runs now. */
    let gap = 0;
    for (let k = 0, at = this.histHead; k < this.histSize; k++, at = (at + HISTORY - 1) % HISTORY) {
      const c = this.histCount[at];
      if (trailing && c === 0) zeroMs += this.histMs[at];
      else trailing = false;
      if (!trailing) {
        if (c !== 0) gap = 0;
        else if ((gap += this.histMs[at]) >= NO_LOAD_MS) {
          ms -= gap - this.histMs[at]; // the gap's windows already counted in the span leave it
          break;
        }
      }
      if (edges < POWER_MIN_EDGES) {
        edges += c;
        ms += this.histMs[at];
      } else if (!trailing) break;
    }
    if (zeroMs >= NO_LOAD_MS || edges === 0) return 0;
    const hz = (edges * 1000) / ms;
    return zeroMs > 0 ? Math.min(hz, 1000 / zeroMs) : hz;
  }
}
