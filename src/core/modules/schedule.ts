// Kasa module `schedule` (PROTOCOL §2.5, §5.1): weekly and one-shot rules and usage statistics.
// Rules are stored and listed; running them on the plug is the scheduler's work (not yet built).

import type { PlugContext } from "../context.js";
import type { Module } from "../dispatcher.js";
import { INVALID_ARGUMENT } from "../errors.js";
import { flag, int, type Params } from "../params.js";
import { optionalInt, readDate, readName, readWday, ruleMethods } from "../rules.js";

/** Most schedule rules kept. */
export const MAX_SCHEDULE_RULES = 20;

/** stime_opt/etime_opt: -1 none, 0 fixed minute, 1 sunrise, 2 sunset; sact/eact: -1 none, 0 off, 1 on. */
export function readScheduleRule(params: Params): { [field: string]: unknown } | undefined {
  const name = readName(params);
  const enable = flag(params.enable);
  const wday = readWday(params.wday);
  const repeat = flag(params.repeat);
  const stime_opt = int(params.stime_opt, -1, 2);
  const smin = int(params.smin, 0, 1439);
  const sact = int(params.sact, -1, 1);
  const soffset = optionalInt(params, "soffset", -1439, 1439, 0);
  const etime_opt = optionalInt(params, "etime_opt", -1, 2, -1);
  const emin = optionalInt(params, "emin", 0, 1439, 0);
  const eact = optionalInt(params, "eact", -1, 1, -1);
  if (name === undefined || enable === undefined || wday === undefined || repeat === undefined || stime_opt === undefined ||
    smin === undefined || sact === undefined || soffset === undefined || etime_opt === undefined || emin === undefined ||
    eact === undefined) return undefined;
  const date = readDate(params, repeat);
  if (date === undefined) return undefined;
  return { name, enable, wday, repeat, stime_opt, smin, soffset, sact, etime_opt, emin, eact, ...date };
}

/** get_daystat / get_monthstat parameters: integers, as real plugs insist (PROTOCOL §1.4). */
export function readStatPeriod(params: Params, withMonth: boolean): boolean {
  return int(params.year, 2000, 2099) !== undefined && (!withMonth || int(params.month, 1, 12) !== undefined);
}

export const scheduleModule: Module = Object.freeze({
  ...ruleMethods((plug) => plug.rules.schedule),
  get_next_action: () => ({ type: -1 }),
  get_daystat: (_plug: PlugContext, params: Params) => (readStatPeriod(params, true) ? { day_list: [] } : INVALID_ARGUMENT),
  get_monthstat: (_plug: PlugContext, params: Params) => (readStatPeriod(params, false) ? { month_list: [] } : INVALID_ARGUMENT),
  erase_runtime_stat: () => ({}),
});
