// Kasa module `count_down` (PROTOCOL §2.6, §5.2): one timer rule; a second add is "table is full".

import type { PlugContext } from "../context.js";
import type { Module } from "../dispatcher.js";
import { flag, int, type Params } from "../params.js";
import { readName } from "../rules.js";

/** Longest countdown accepted, seconds (one day). */
export const MAX_COUNTDOWN_SECONDS = 86400;

export function readCountdownRule(params: Params): { [field: string]: unknown } | undefined {
  const name = readName(params);
  const enable = flag(params.enable);
  const delay = int(params.delay, 1, MAX_COUNTDOWN_SECONDS);
  const act = flag(params.act);
  if (name === undefined || enable === undefined || delay === undefined || act === undefined) return undefined;
  return { name, enable, delay, act };
}

export const countDownModule: Module = Object.freeze({
  // `remain` equals `delay` until the countdown runs on the plug (the scheduler is not built yet).
  get_rules: (plug: PlugContext) => {
    const list = plug.rules.countDown.list();
    for (const r of list) r.remain = r.delay;
    return { rule_list: list };
  },
  add_rule: (plug: PlugContext, params: Params) => plug.rules.countDown.add(params),
  edit_rule: (plug: PlugContext, params: Params) => plug.rules.countDown.edit(params),
  delete_rule: (plug: PlugContext, params: Params) => plug.rules.countDown.remove(params),
  delete_all_rules: (plug: PlugContext) => plug.rules.countDown.clear(),
});
