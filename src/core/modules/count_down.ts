// Kasa module `count_down` (PROTOCOL §2.6, §5.2): one timer rule; a second add is "table is full".
// The timer itself runs in countdown.ts.

import type { PlugContext } from "../protocol/context.js";
import type { Module } from "../protocol/dispatcher.js";
import type { Params } from "../protocol/params.js";
import { whenTimeKnown } from "../rules/rules.js";

export const countDownModule: Module = Object.freeze({
  get_rules: (plug: PlugContext) => ({ rule_list: plug.countdown.list() }),
  add_rule: (plug: PlugContext, params: Params) => whenTimeKnown(plug, () => plug.countdown.add(params)),
  edit_rule: (plug: PlugContext, params: Params) => whenTimeKnown(plug, () => plug.countdown.edit(params)),
  delete_rule: (plug: PlugContext, params: Params) => whenTimeKnown(plug, () => plug.countdown.remove(params)),
  delete_all_rules: (plug: PlugContext) => whenTimeKnown(plug, () => plug.countdown.clear()),
});
