// Kasa module `time` (PROTOCOL §2.4): local wall time in the TP-Link zone (index 0-109).

import type { PlugContext } from "../protocol/context.js";
import type { Module } from "../protocol/dispatcher.js";
import { INVALID_ARGUMENT, UNKNOWN_ERROR } from "../protocol/errors.js";
import { int, type Params } from "../protocol/params.js";
import { KEY } from "../storage/settings.js";
import { readLocalTime } from "../time/clock.js";
import { ZONE_COUNT } from "../time/zones.js";

export const timeModule: Module = Object.freeze({
  get_time: (plug: PlugContext) => {
    const t = plug.clock.local();
    return { year: t.year, month: t.month, mday: t.mday, hour: t.hour, min: t.min, sec: t.sec };
  },

  get_timezone: (plug: PlugContext) => ({ index: plug.clock.zone }),

  // The Kasa app sends the zone with the local date and time; the index alone is refused, as real
  // plugs do.
  set_timezone: (plug: PlugContext, params: Params) => {
    const index = int(params.index, 0, ZONE_COUNT - 1);
    const time = readLocalTime(params);
    if (index === undefined || time === undefined) return INVALID_ARGUMENT;
    if (!plug.settings.put(KEY.zone, index)) return UNKNOWN_ERROR;
    plug.clock.setZone(index);
    plug.clock.setLocal(time);
    plug.scheduler.changed();
    return {};
  },

  set_time: (plug: PlugContext, params: Params) => {
    const time = readLocalTime(params);
    if (time === undefined) return INVALID_ARGUMENT;
    plug.clock.setLocal(time);
    plug.scheduler.changed();
    return {};
  },
});
