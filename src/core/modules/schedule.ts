// Kasa module `schedule` (PROTOCOL §2.5, §5.1): weekly and one-shot rules, the next action, and
// usage statistics. The rules run in scheduler.ts; the statistics are kept by runtime-stats.ts.

import type { PlugContext } from "../protocol/context.js";
import type { Module } from "../protocol/dispatcher.js";
import { INVALID_ARGUMENT } from "../protocol/errors.js";
import { flag, int, type Params } from "../protocol/params.js";
import { DATE_FIELDS, optionalInt, readDate, readName, readWday, ruleMethods, type RuleKind, ruleKind } from "../rules/rules.js";
import { KEY } from "../storage/settings.js";

/**
 * Most schedule rules kept, on every board: 32, what TP-Link gives for its plugs' schedules (the one
 * figure published, for Tapo plugs; none is for the HS1xx). Each is one setting of at most 60 bytes
 * (settings.ts) kept in flash, not in the heap (rules.ts).
 */
export const MAX_SCHEDULE_RULES = 32;

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
  // a rule that does nothing is refused, as is a weekly rule on no day
  if ((sact === -1 || stime_opt === -1) && (eact === -1 || etime_opt === -1)) return undefined;
  if (repeat === 1 && wday.indexOf(1) < 0) return undefined;
  const date = readDate(params, repeat);
  if (date === undefined) return undefined;
  return { name, enable, wday, repeat, stime_opt, smin, soffset, sact, etime_opt, emin, eact, ...date };
}

export const SCHEDULE_RULES: RuleKind = ruleKind(KEY.scheduleRules, MAX_SCHEDULE_RULES, readScheduleRule, [
  ["enable", 0, 1],
  ["wday", 0, 127],
  ["repeat", 0, 1],
  ["stime_opt", -1, 2],
  ["smin", 0, 1439],
  ["soffset", -1439, 1439],
  ["sact", -1, 1],
  ["etime_opt", -1, 2],
  ["emin", 0, 1439],
  ["eact", -1, 1],
  ...DATE_FIELDS,
]);

/** Where stime_opt, smin and soffset are in a schedule rule's values (the seed first, then the fields above). */
const AT_STIME_OPT = 4;
const AT_SMIN = 5;
const AT_SOFFSET = 6;

/** get_daystat / get_monthstat parameters: integers, as real plugs insist (PROTOCOL §1.4). */
export function readStatPeriod(params: Params, withMonth: boolean): boolean {
  return int(params.year, 2000, 2099) !== undefined && (!withMonth || int(params.month, 1, 12) !== undefined);
}

/** Sunrise and sunset rules list today's switching minute (offset included) in `smin`, as real plugs fill it in. */
function withSunMinute(values: number[], _kind: RuleKind, plug: unknown): void {
  const opt = values[AT_STIME_OPT];
  if (opt === 1 || opt === 2) {
    const minute = (plug as PlugContext).scheduler.sunMinuteToday(opt, values[AT_SOFFSET]);
    if (minute >= 0) values[AT_SMIN] = minute;
  }
}

export const scheduleModule: Module = Object.freeze({
  ...ruleMethods((plug) => plug.rules.schedule, withSunMinute),
  get_next_action: (plug: PlugContext) => plug.scheduler.nextAction("schd_time"),
  get_daystat: (plug: PlugContext, params: Params) =>
    readStatPeriod(params, true) ? { day_list: plug.stats.days(params.year as number, params.month as number) } : INVALID_ARGUMENT,
  get_monthstat: (plug: PlugContext, params: Params) =>
    readStatPeriod(params, false) ? { month_list: plug.stats.months(params.year as number) } : INVALID_ARGUMENT,
  erase_runtime_stat: (plug: PlugContext) => {
    plug.stats.erase();
    return {};
  },
});
