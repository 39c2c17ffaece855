// Kasa module `emeter` (PROTOCOL §2.8) in the personality's unit family: v1 floats (A, V, W, kWh) or
// v2 integers (mA, mV, mW, Wh). Without a meter driver it reads zero and keeps no statistics;
// a plug without a meter refuses the module the way its firmware generation does.

import type { PlugContext } from "../context.js";
import type { Module } from "../dispatcher.js";
import { INVALID_ARGUMENT, MODULE_NOT_SUPPORT, saved, type KasaError } from "../errors.js";
import { int, type Params } from "../params.js";
import { KEY } from "../settings.js";
import { readStatPeriod } from "./schedule.js";

export const DEFAULT_VGAIN = 13462;
export const DEFAULT_IGAIN = 16835;

export function emeterModule(plug: PlugContext): Module | KasaError {
  const { personality, settings } = plug;
  if (personality.emeter === "none") {
    // fw 1.5+ answers every method with -1; older firmware refuses the whole module.
    return personality.noEmeterAt === "module" ? MODULE_NOT_SUPPORT : Object.freeze({ "*": () => MODULE_NOT_SUPPORT });
  }
  const v2 = personality.emeter === "v2";
  return Object.freeze({
    get_realtime: () => (v2 ? { voltage_mv: 0, current_ma: 0, power_mw: 0, total_wh: 0 } : { voltage: 0, current: 0, power: 0, total: 0 }),
    get_daystat: (params: Params) => (readStatPeriod(params, true) ? { day_list: [] } : INVALID_ARGUMENT),
    get_monthstat: (params: Params) => (readStatPeriod(params, false) ? { month_list: [] } : INVALID_ARGUMENT),
    erase_emeter_stat: () => ({}),
    get_vgain_igain: () => ({
      vgain: settings.int(KEY.vgain, 1, 1000000, DEFAULT_VGAIN),
      igain: settings.int(KEY.igain, 1, 1000000, DEFAULT_IGAIN),
    }),
    set_vgain_igain: (params: Params) => {
      const vgain = int(params.vgain, 1, 1000000);
      const igain = int(params.igain, 1, 1000000);
      if (vgain === undefined || igain === undefined) return INVALID_ARGUMENT;
      return saved(settings.put(KEY.vgain, vgain) && settings.put(KEY.igain, igain));
    },
  });
}
