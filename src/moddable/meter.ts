// The energy meter on Moddable: `config.plug.meter` from the board's manifest names the chip and
// its pins; the platform's io (io-esp.ts, io-sim.ts) says how a chip is reached there (real pins,
// or a simulated chip in the simulator), and this file builds the core's driver from both. The core
// starts and stops the driver and keeps its calibration; nothing here runs until `createMeter`.
//
//   {"chip": "CSE7766", "rx": 3}                                UART chip (Sonoff Pow R2, S31)
//   {"chip": "BL0937", "cf": 5, "cf1": 14, "sel": 12}           pulse chips (HLW8012, CSE7759, BL0937, HJL-01)
//   optional: "selInverted", "divider", "shunt_ohm", "ratedCurrent" (mA), "uart" (ESP32 only)
//   simulator: {"chip": "CSE7766", "load": 60} or "load": [[0, 60], [600000, 1500]], "volts": 230
//
// A wrong chip name or a missing pin is one log line and no meter: the plug still switches.

import { Cse7766Driver } from "../core/energy/meter/cse7766.js";
import { Hlw8012Driver, type HlwBoard, type HlwModel } from "../core/energy/meter/hlw8012.js";
import { DEFAULT_LIMITS, meterLimits, type MeterDriver, type MeterLimits, type MonotonicClock } from "../core/energy/meter/meter.js";
import type { DigitalOutPort, LogPort, PulseCountPort, SerialReceivePort, TimerPort } from "../ports/ports.js";
import { pin, yes, type BoardConfig, type MeterBoardConfig } from "./board.js";
import { ModdableTimers } from "./time.js";

export type MeterChip = "CSE7766" | HlwModel;

const CHIPS: readonly MeterChip[] = Object.freeze(["CSE7766", "HLW8012", "CSE7759", "BL0937", "HJL-01"] as MeterChip[]);

/** ESP32: UART0 is the console (and xsbug); UART2 is free on every module. */
const DEFAULT_UART = 2;

/** What a meter factory gets besides the board's meter config. */
export interface MeterContext {
  timers: TimerPort;
  clock: MonotonicClock;
  limits: MeterLimits;
  log: LogPort;
}

/** Builds the driver for `chip` from the board's meter config, or undefined (after one log line). */
export type MeterFactory = (config: MeterBoardConfig, chip: MeterChip, context: MeterContext) => MeterDriver | undefined;

/** The chip-facing ports a platform with pins provides (io-esp.ts). */
export interface MeterPins {
  /** The CSE7766's UART, receive only: 4800 baud, 8 data bits, 1 stop bit (parity: see meter-esp.ts). */
  serial(rx: number, uart: number): SerialReceivePort;
  /** Rising edges on `pin` (CF, CF1). */
  pulses(pin: number): PulseCountPort;
  /** An output (SEL). */
  output(pin: number): DigitalOutPort;
}

function meterChip(value: unknown): MeterChip | undefined {
  const name = typeof value === "string" ? value.toUpperCase() : undefined;
  return CHIPS.find((c) => c === name);
}

/** Whether the board's meter is a pulse chip (HLW8012, CSE7759, BL0937, HJL-01): its outputs are counted by edge interrupts. */
export function countsPulses(board: BoardConfig): boolean {
  const chip = typeof board.meter === "object" && board.meter !== null ? meterChip(board.meter.chip) : undefined;
  return chip !== undefined && chip !== "CSE7766";
}

/** A positive finite number (mcconfig command-line overrides arrive as strings). */
export function positive(value: unknown): number | undefined {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * The board's meter, or undefined: none configured (silently), or a config that cannot work (one
 * log line). `factory` is the platform's (io-esp: pins, io-sim: a simulated chip); construction
 * errors (a pin in use, no UART) are logged, never thrown: a plug without its meter still switches.
 */
export function createMeter(board: BoardConfig, factory: MeterFactory | undefined, clock: MonotonicClock, log: LogPort): MeterDriver | undefined {
  const config = board.meter;
  if (typeof config !== "object" || config === null) return undefined;
  const chip = meterChip(config.chip);
  if (chip === undefined) {
    log(`meter: unknown chip "${String(config.chip)}" (${CHIPS.join(", ")}); no meter`);
    return undefined;
  }
  if (factory === undefined) {
    log(`meter: this platform cannot reach a ${chip}; no meter`);
    return undefined;
  }
  const rated = positive(config.ratedCurrent);
  try {
    return factory(config, chip, { timers: new ModdableTimers(), clock, limits: rated === undefined ? DEFAULT_LIMITS : meterLimits(rated), log });
  } catch (e) {
    log(`meter: ${chip} not started (${String(e)}); no meter`);
    return undefined;
  }
}

function hlwBoard(config: MeterBoardConfig): Partial<HlwBoard> {
  const board: { -readonly [K in keyof HlwBoard]?: HlwBoard[K] } = { selInverted: yes(config.selInverted) };
  const divider = positive(config.divider);
  const shunt = positive(config.shunt_ohm);
  if (divider !== undefined) board.divider = divider;
  if (shunt !== undefined) board.shunt_ohm = shunt;
  return board;
}

/** A factory for chips on real pins. */
export function pinnedMeter(pins: MeterPins): MeterFactory {
  return (config, chip, { timers, clock, limits, log }) => {
    if (chip === "CSE7766") {
      const rx = pin(config.rx);
      if (rx === undefined) {
        log('meter: CSE7766 needs its "rx" pin; no meter');
        return undefined;
      }
      const uart = pin(config.uart) ?? DEFAULT_UART;
      log(`meter: CSE7766 on RX GPIO${rx}`);
      return new Cse7766Driver({ serial: pins.serial(rx, uart), clock }, { limits });
    }
    const cf = pin(config.cf);
    const cf1 = pin(config.cf1);
    const sel = pin(config.sel);
    if (cf === undefined || cf1 === undefined || sel === undefined) {
      log(`meter: ${chip} needs "cf", "cf1" and "sel" pins; no meter`);
      return undefined;
    }
    const board = hlwBoard(config);
    log(`meter: ${chip} CF GPIO${cf}, CF1 GPIO${cf1}, SEL GPIO${sel}${board.selInverted ? " (inverted)" : ""}`);
    return new Hlw8012Driver({ cf: pins.pulses(cf), cf1: pins.pulses(cf1), sel: pins.output(sel), timers, clock }, { model: chip, board, limits });
  };
}
