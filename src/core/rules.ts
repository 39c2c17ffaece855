// A table of rules as `schedule`, `anti_theft` and `count_down` keep them (PROTOCOL §5): device-made
// 32-hex ids, a fixed maximum, validation before any change.

import type { PlugContext } from "./context.js";
import type { MethodResult, Module } from "./dispatcher.js";
import { ENTRY_NOT_EXIST, INVALID_ARGUMENT, TABLE_FULL, type KasaError } from "./errors.js";
import { flag, has, int, str, type Params } from "./params.js";

export type Rule = { id: string; [field: string]: unknown };

/** Reads a rule's fields from add_rule/edit_rule params: the stored fields, or undefined if invalid. */
export type RuleReader = (params: Params) => { [field: string]: unknown } | undefined;

const HEX = "0123456789ABCDEF";

/** A fresh rule id: 32 upper-case hex characters. */
export function newRuleId(): string {
  let id = "";
  for (let i = 0; i < 32; i++) id += HEX[Math.floor(Math.random() * 16)];
  return id;
}

export class RuleTable {
  private rules: Rule[] = [];
  enable: 0 | 1 = 1;

  constructor(
    readonly max: number,
    private readonly read: RuleReader,
    private readonly full: KasaError = TABLE_FULL,
  ) {}

  get size(): number {
    return this.rules.length;
  }

  list(): Rule[] {
    const out: Rule[] = [];
    for (const r of this.rules) out.push({ ...r });
    return out;
  }

  add(params: Params): MethodResult | KasaError {
    const fields = this.read(params);
    if (fields === undefined) return INVALID_ARGUMENT;
    if (this.rules.length >= this.max) return this.full;
    let id = newRuleId();
    while (this.find(id) >= 0) id = newRuleId();
    this.rules.push({ id, ...fields });
    return { id };
  }

  edit(params: Params): MethodResult | KasaError {
    if (typeof params.id !== "string") return INVALID_ARGUMENT;
    const at = this.find(params.id);
    const fields = this.read(params);
    if (fields === undefined) return INVALID_ARGUMENT;
    if (at < 0) return ENTRY_NOT_EXIST;
    this.rules[at] = { id: this.rules[at].id, ...fields };
    return {};
  }

  remove(params: Params): MethodResult | KasaError {
    if (typeof params.id !== "string") return INVALID_ARGUMENT;
    const at = this.find(params.id);
    if (at < 0) return ENTRY_NOT_EXIST;
    this.rules.splice(at, 1);
    return {};
  }

  clear(): MethodResult {
    this.rules = [];
    return {};
  }

  setEnable(params: Params): MethodResult | KasaError {
    const enable = flag(params.enable);
    if (enable === undefined) return INVALID_ARGUMENT;
    this.enable = enable;
    return {};
  }

  private find(id: string): number {
    const wanted = id.toUpperCase();
    for (let i = 0; i < this.rules.length; i++) if (this.rules[i].id === wanted) return i;
    return -1;
  }
}

/** The methods schedule and anti_theft share: get_rules, add/edit/delete, and the overall switch. */
export function ruleMethods(table: (plug: PlugContext) => RuleTable): Module {
  return {
    get_rules: (plug: PlugContext) => {
      const t = table(plug);
      return { rule_list: t.list(), enable: t.enable, version: 2 };
    },
    add_rule: (plug: PlugContext, params: Params) => table(plug).add(params),
    edit_rule: (plug: PlugContext, params: Params) => table(plug).edit(params),
    delete_rule: (plug: PlugContext, params: Params) => table(plug).remove(params),
    delete_all_rules: (plug: PlugContext) => table(plug).clear(),
    set_overall_enable: (plug: PlugContext, params: Params) => table(plug).setEnable(params),
  };
}

export function readWday(value: unknown): number[] | undefined {
  if (!Array.isArray(value) || value.length !== 7) return undefined;
  const out: number[] = [];
  for (const v of value) {
    const f = flag(v);
    if (f === undefined) return undefined;
    out.push(f);
  }
  return out;
}

/** An optional integer field: its default when absent, undefined when present but invalid. */
export function optionalInt(params: Params, key: string, min: number, max: number, fallback: number): number | undefined {
  return has(params, key) ? int(params[key], min, max) : fallback;
}

/** Longest rule name, bytes of UTF-8. */
export const MAX_RULE_NAME_BYTES = 32;

export function readName(params: Params): string | undefined {
  return has(params, "name") ? str(params.name, MAX_RULE_NAME_BYTES) : "";
}

/** year/month/day of a one-shot rule (all 0 for repeating rules). */
export function readDate(params: Params, repeat: number): { year: number; month: number; day: number } | undefined {
  if (repeat === 1) {
    // repeating rules carry zeros; what clients send there is ignored
    return { year: 0, month: 0, day: 0 };
  }
  const year = int(params.year, 2000, 2099);
  const month = int(params.month, 1, 12);
  const day = int(params.day, 1, 31);
  if (year === undefined || month === undefined || day === undefined) return undefined;
  return { year, month, day };
}
