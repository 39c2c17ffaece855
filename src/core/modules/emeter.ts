// Kasa module `emeter` (PROTOCOL §2.8) in the personality's unit family: v1 floats (A, V, W, kWh) or
// v2 integers (mA, mV, mW, Wh). Without a meter driver it reads zero and keeps no statistics;
// a plug without a meter refuses the module the way its firmware generation does.

import type { PlugContext } from "../context.js";
import type { Module } from "../dispatcher.js";
import type { Personality } from "../personality.js";
import { INVALID_ARGUMENT, MODULE_NOT_SUPPORT, saved, type KasaError } from "../errors.js";
import { int, type Params } from "../params.js";
import { KEY } from "../settings.js";
import { readStatPeriod } from "./schedule.js";

export const DEFAULT_VGAIN = 13462;
export const DEFAULT_IGAIN = 16835;

const METER: Module = Object.freeze({
  get_realtime: (plug: PlugContext) =>
    plug.personality.emeter === "v2" ? { voltage_mv: 0, current_ma: 0, power_mw: 0, total_wh: 0 } : { voltage: 0, current: 0, power: 0, total: 0 },
  get_daystat: (_plug: PlugContext, params: Params) => (readStatPeriod(params, true) ? { day_list: [] } : INVALID_ARGUMENT),
  get_monthstat: (_plug: PlugContext, params: Params) => (readStatPeriod(params, false) ? { month_list: [] } : INVALID_ARGUMENT),
  erase_emeter_stat: () => ({}),
  get_vgain_igain: (plug: PlugContext) => ({
    vgain: plug.settings.int(KEY.vgain, 1, 1000000, DEFAULT_VGAIN),
    igain: plug.settings.int(KEY.igain, 1, 1000000, DEFAULT_IGAIN),
  }),
  set_vgain_igain: (plug: PlugContext, params: Params) => {
    const vgain = int(params.vgain, 1, 1000000);
    const igain = int(params.igain, 1, 1000000);
    if (vgain === undefined || igain === undefined) return INVALID_ARGUMENT;
    return saved(plug.settings.put(KEY.vgain, vgain) && plug.settings.put(KEY.igain, igain));
  },
});

/** fw 1.5+ without a meter answers every emeter method with -1. */
const NO_METER: Module = Object.freeze({ "*": () => MODULE_NOT_SUPPORT });

/** The emeter module of a personality: the meter, or its firmware generation's way of refusing it. */
export function emeterModule(personality: Personality): Module | KasaError {
  if (personality.emeter !== "none") return METER;
  // older firmware refuses the whole module
  return personality.noEmeterAt === "module" ? MODULE_NOT_SUPPORT : NO_METER;
}
