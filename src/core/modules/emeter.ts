// Kasa module `emeter` (PROTOCOL §2.8) in the personality's unit family: v1 floats (A, V, W, kWh,
// always written with 6 decimals as the firmware does) or v2 integers (mA, mV, mW, Wh), the same
// family in realtime, daystat and monthstat. Readings come
// from the meter driver, totals and statistics from energy.ts. Without a meter chip a metering
// personality reads zero and keeps no statistics; a plug without a meter refuses the module the way
// its firmware generation does.

import type { PlugContext } from "../protocol/context.js";
import type { Module } from "../protocol/dispatcher.js";
import { DEFAULT_IGAIN, DEFAULT_VGAIN, V1Realtime, type EnergyStats } from "../energy/energy.js";
import { CANNOT_CALIBRATE, INVALID_ARGUMENT, MODULE_NOT_SUPPORT, saved, type KasaError } from "../protocol/errors.js";
import { GAIN_MAX, GAIN_MIN, type Gains } from "../energy/meter/meter.js";
import { int, type Params } from "../protocol/params.js";
import type { Personality } from "../device/personality.js";
import { physical } from "../device/presence.js";
import { readStatPeriod } from "./schedule.js";

export { DEFAULT_IGAIN, DEFAULT_VGAIN };

/** Kasa gains accepted by set_vgain_igain: the chip's constants times GAIN_MIN..GAIN_MAX. */
const VGAIN = Object.freeze([Math.ceil(DEFAULT_VGAIN * GAIN_MIN), Math.floor(DEFAULT_VGAIN * GAIN_MAX)] as const);
const IGAIN = Object.freeze([Math.ceil(DEFAULT_IGAIN * GAIN_MIN), Math.floor(DEFAULT_IGAIN * GAIN_MAX)] as const);

/** Every emeter method runs with the energy statistics (a metering personality always has them). */
function energy(plug: PlugContext): EnergyStats {
  return plug.energy!;
}

function v2(plug: PlugContext): boolean {
  return plug.personality.emeter === "v2";
}

/** set_vgain_igain's gains; the power gain follows the product (power is volts times amps). Undefined when out of range. */
function requestedGains(plug: PlugContext, params: Params): Gains | undefined {
  const vgain = int(params.vgain, VGAIN[0], VGAIN[1]);
  const igain = int(params.igain, IGAIN[0], IGAIN[1]);
  if (vgain === undefined || igain === undefined) return undefined;
  const old = energy(plug).gains();
  const voltage = vgain / DEFAULT_VGAIN;
  const current = igain / DEFAULT_IGAIN;
  const power = (old.power * (voltage * current)) / (old.voltage * old.current);
  return power >= GAIN_MIN && power <= GAIN_MAX ? { voltage, current, power } : undefined;
}

function checkGains(plug: PlugContext, params: Params): KasaError | undefined {
  return requestedGains(plug, params) === undefined ? INVALID_ARGUMENT : undefined;
}

function checkTargets(_plug: PlugContext, params: Params): KasaError | undefined {
  return int(params.vtarget, 1, 1_000_000) === undefined || int(params.itarget, 1, 100_000) === undefined ? INVALID_ARGUMENT : undefined;
}

/** The module of a plug with a meter (plug.ts reads its method names). */
export const METER: Module = Object.freeze({
  get_realtime: (plug: PlugContext) => {
    const e = energy(plug);
    const total = e.total_mwh(); // counts the energy up to now
    const r = e.reading();
    if (v2(plug)) {
      return { voltage_mv: r?.voltage_mv ?? 0, current_ma: r?.current_ma ?? 0, power_mw: r?.power_mw ?? 0, total_wh: Math.floor(total / 1000) };
    }
    // V, A, W and kWh with 6 decimals, whole values and 0 too (energy.ts V1Realtime)
    return new V1Realtime(r?.voltage_mv ?? 0, r?.current_ma ?? 0, r?.power_mw ?? 0, Math.floor(total / 1000));
  },
  get_daystat: (plug: PlugContext, params: Params) =>
    readStatPeriod(params, true) ? { day_list: energy(plug).days(params.year as number, params.month as number, v2(plug)) } : INVALID_ARGUMENT,
  get_monthstat: (plug: PlugContext, params: Params) =>
    readStatPeriod(params, false) ? { month_list: energy(plug).monthsOf(params.year as number, v2(plug)) } : INVALID_ARGUMENT,
  erase_emeter_stat: (plug: PlugContext) => {
    energy(plug).erase();
    return {};
  },
  get_vgain_igain: (plug: PlugContext) => {
    const g = energy(plug).gains();
    return { vgain: Math.round(DEFAULT_VGAIN * g.voltage), igain: Math.round(DEFAULT_IGAIN * g.current) };
  },
  // Calibration changes what every reading says (a 100 W load shown as 1,600 W): behind the presence
  // lock, its parameters checked first (presence.ts).
  set_vgain_igain: physical(
    "emeter.set_vgain_igain",
    (plug: PlugContext, params: Params) => {
      const gains = requestedGains(plug, params);
      return gains === undefined ? INVALID_ARGUMENT : saved(energy(plug).setGains(gains));
    },
    undefined,
    checkGains,
  ),
  // vtarget in mV and itarget in mA: the known load's true values while it runs
  start_calibration: physical(
    "emeter.start_calibration",
    (plug: PlugContext, params: Params) => {
      if (checkTargets(plug, params) !== undefined) return INVALID_ARGUMENT;
      return energy(plug).calibrate(params.vtarget as number, params.itarget as number) ? {} : CANNOT_CALIBRATE;
    },
    undefined,
    checkTargets,
  ),
});

/** fw 1.5+ without a meter answers every emeter method with -1. */
const NO_METER: Module = Object.freeze({ "*": () => MODULE_NOT_SUPPORT });

/** The emeter module of a personality: the meter, or its firmware generation's way of refusing it. */
export function emeterModule(personality: Personality): Module | KasaError {
  if (personality.emeter !== "none") return METER;
  // older firmware refuses the whole module
  return personality.noEmeterAt === "module" ? MODULE_NOT_SUPPORT : NO_METER;
}
