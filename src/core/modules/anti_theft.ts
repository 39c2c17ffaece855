// Kasa module `anti_theft`, "Away mode" (PROTOCOL §2.7, §5.3): rules with a window and a frequency;
// the scheduler switches the relay at random times inside the window. Like real plugs it has no
// get_next_action (answered -2 by the dispatcher).

import type { Module } from "../protocol/dispatcher.js";
import { flag, int, type Params } from "../protocol/params.js";
import { DATE_FIELDS, readDate, readName, readWday, ruleMethods, type RuleKind, ruleKind } from "../rules/rules.js";
import { KEY } from "../storage/settings.js";

/**
 * Most away-mode rules kept, on every board. The Kasa app makes one and real plugs' bound is not
 * known; tplink-smarthome-api's own test suite adds 5 before it deletes any. Rules live in the
 * settings, not the heap (rules.ts), so the bound is the ESP8266's 4 KB settings sector: with 32
 * schedule rules and these 6, each with a 32-byte name, two years of statistics, the energy records
 * and the Wi-Fi network, a write still has a record's room (host-tests/rules.test.ts); 8 would not.
 */
export const MAX_AWAY_RULES = 6;

export function readAwayRule(params: Params): { [field: string]: unknown } | undefined {
  const name = readName(params);
  const enable = flag(params.enable);
  const wday = readWday(params.wday);
  const repeat = flag(params.repeat);
  const stime_opt = int(params.stime_opt, 0, 2);
  const smin = int(params.smin, 0, 1439);
  const etime_opt = int(params.etime_opt, 0, 2);
  const emin = int(params.emin, 0, 1439);
  const frequency = int(params.frequency, 1, 60);
  if (name === undefined || enable === undefined || wday === undefined || repeat === undefined || stime_opt === undefined ||
    smin === undefined || etime_opt === undefined || emin === undefined || frequency === undefined) return undefined;
  if (repeat === 1 && wday.indexOf(1) < 0) return undefined;
  const date = readDate(params, repeat);
  if (date === undefined) return undefined;
  return { name, enable, wday, repeat, stime_opt, smin, etime_opt, emin, frequency, ...date };
}

export const AWAY_RULES: RuleKind = ruleKind(KEY.awayRules, MAX_AWAY_RULES, readAwayRule, [
  ["enable", 0, 1],
  ["wday", 0, 127],
  ["repeat", 0, 1],
  ["stime_opt", 0, 2],
  ["smin", 0, 1439],
  ["etime_opt", 0, 2],
  ["emin", 0, 1439],
  ["frequency", 1, 60],
  ...DATE_FIELDS,
]);

export const antiTheftModule: Module = Object.freeze(ruleMethods((plug) => plug.rules.antiTheft));
