// A table of rules as `schedule`, `anti_theft` and `count_down` keep them (PROTOCOL §5): device-made
// 32-hex ids, a fixed maximum, validation before any change, and each rule in one setting of its
// own ("sc0".."sc19"), packed to fit one setting (60 bytes: the ESP8266's 63-byte Preference value
// less SafeStore's check; pack.ts, safe-store.ts).
//
// A rule's id is 32 hex characters made from a 30-bit seed, so the setting holds 5 characters for
// it, not 32: seed, fields and name fit one value (the name is at most 32 bytes).

import type { RandomPort } from "../ports/ports.js";
import type { PlugContext } from "./context.js";
import type { MethodResult, Module } from "./dispatcher.js";
import { ENTRY_NOT_EXIST, INVALID_ARGUMENT, TABLE_FULL, TIME_NOT_SYNC, UNKNOWN_ERROR, type KasaError } from "./errors.js";
import { pack, packedLength, unpack, type FieldRange } from "./pack.js";
import { flag, has, int, str, type Params } from "./params.js";
import type { Settings } from "./settings.js";

export type Rule = { id: string; [field: string]: unknown };

/** Reads a rule's fields from add_rule/edit_rule params: the stored fields, or undefined if invalid. */
export type RuleReader = (params: Params) => { [field: string]: unknown } | undefined;

/** A stored field and its range; "wday" is the 7-day list, kept as a 7-bit mask. */
export type RuleField = readonly [name: string, min: number, max: number];

/** What a kind of rule is: where it is stored, how many, its fields (in the order get_rules lists them). */
export interface RuleKind {
  /** Settings key prefix: slot n is stored at prefix + n. */
  readonly key: string;
  readonly max: number;
  readonly fields: readonly RuleField[];
  /** The packed ranges: the id's seed, then each field's (made once by `ruleKind`, frozen with the module). */
  readonly ranges: readonly FieldRange[];
  readonly read: RuleReader;
  /** The answer when the table is full. */
  readonly full: KasaError;
}

const SEED_RANGE: FieldRange = Object.freeze([0, 0x3fffffff] as const);

/** A kind of rule, frozen (its module is preloaded: the tables live in flash, not in the heap). */
export function ruleKind(key: string, max: number, read: RuleReader, fields: readonly RuleField[]): RuleKind {
  const ranges: FieldRange[] = [SEED_RANGE];
  for (let i = 0; i < fields.length; i++) {
    Object.freeze(fields[i]);
    ranges.push(Object.freeze([fields[i][1], fields[i][2]] as const));
  }
  return Object.freeze({ key, max, read, full: TABLE_FULL, fields: Object.freeze(fields.slice()), ranges: Object.freeze(ranges) });
}
const HEX = "0123456789ABCDEF";

/** The 32-hex id made from a seed: four rounds of a 32-bit mixer, so ids look as random as a plug's. */
export function ruleId(seed: number): string {
  let id = "";
  let x = seed;
  for (let word = 0; word < 4; word++) {
    x = (x + 0x9e3779b9) | 0;
    let z = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    for (let shift = 28; shift >= 0; shift -= 4) id += HEX[(z >>> shift) & 15];
  }
  return id;
}

export class RuleTable {
  private rules: Rule[] = [];
  /** Parallel to `rules`: each rule's seed and its settings slot. */
  private seeds: number[] = [];
  private slots: number[] = [];
  enable: 0 | 1 = 1;
  /** Called after any change (the scheduler recomputes what comes next). */
  onChange: () => void = () => {};

  constructor(
    readonly kind: RuleKind,
    private readonly settings: Settings,
    private readonly random: RandomPort,
  ) {
    const ranges = kind.ranges;
    this.enable = settings.int(kind.key + "_on", 0, 1, 1) as 0 | 1;
    for (let slot = 0; slot < kind.max; slot++) {
      const text = settings.text(kind.key + slot, "");
      const values = text === "" ? undefined : unpack(text, ranges);
      if (values === undefined) continue; // absent or unreadable: the slot is free
      const rule: Rule = { id: ruleId(values[0]), name: text.slice(packedLength(ranges)) };
      for (let i = 0; i < kind.fields.length; i++) {
        const [name] = kind.fields[i];
        rule[name] = name === "wday" ? wdayList(values[i + 1]) : values[i + 1];
      }
      this.rules.push(rule);
      this.seeds.push(values[0]);
      this.slots.push(slot);
    }
  }

  get size(): number {
    return this.rules.length;
  }

  /** The rules themselves, for the scheduler: read only. */
  get all(): readonly Rule[] {
    return this.rules;
  }

  /** Copies for an answer. */
  list(): Rule[] {
    const out: Rule[] = [];
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      const copy: Rule = { id: r.id };
      for (const k in r) if (k !== "id") copy[k] = k === "wday" ? (r[k] as number[]).slice() : r[k];
      out.push(copy);
    }
    return out;
  }

  add(params: Params): MethodResult | KasaError {
    const fields = this.read(params);
    if (fields === undefined) return INVALID_ARGUMENT;
    if (this.rules.length >= this.kind.max) return this.kind.full;
    let slot = 0;
    while (this.slots.indexOf(slot) >= 0) slot++;
    let seed = this.newSeed();
    // a poor random source must not hang the plug: after a few draws, the next free seed
    for (let tries = 0; this.seeds.indexOf(seed) >= 0; tries++) seed = tries < 4 ? this.newSeed() : (seed + 1) & 0x3fffffff;
    const rule: Rule = { id: ruleId(seed), ...fields };
    if (!this.store(slot, seed, rule)) return UNKNOWN_ERROR;
    this.rules.push(rule);
    this.seeds.push(seed);
    this.slots.push(slot);
    this.onChange();
    return { id: rule.id };
  }

  edit(params: Params): MethodResult | KasaError {
    if (typeof params.id !== "string") return INVALID_ARGUMENT;
    const at = this.find(params.id);
    const fields = this.read(params);
    if (fields === undefined) return INVALID_ARGUMENT;
    if (at < 0) return ENTRY_NOT_EXIST;
    return this.replace(at, { id: this.rules[at].id, ...fields });
  }

  /** Sets one field of a rule (a one-shot rule disabled after it ran); false when it could not be stored. */
  update(id: string, field: string, value: number): boolean {
    const at = this.find(id);
    if (at < 0) return false;
    const rule: Rule = { ...this.rules[at] };
    rule[field] = value;
    return this.replace(at, rule) !== UNKNOWN_ERROR;
  }

  remove(params: Params): MethodResult | KasaError {
    if (typeof params.id !== "string") return INVALID_ARGUMENT;
    const at = this.find(params.id);
    if (at < 0) return ENTRY_NOT_EXIST;
    this.settings.remove(this.kind.key + this.slots[at]);
    this.rules.splice(at, 1);
    this.seeds.splice(at, 1);
    this.slots.splice(at, 1);
    this.onChange();
    return {};
  }

  clear(): MethodResult {
    for (let i = 0; i < this.slots.length; i++) this.settings.remove(this.kind.key + this.slots[i]);
    this.rules = [];
    this.seeds = [];
    this.slots = [];
    this.onChange();
    return {};
  }

  setEnable(params: Params): MethodResult | KasaError {
    const enable = flag(params.enable);
    if (enable === undefined) return INVALID_ARGUMENT;
    if (!this.settings.put(this.kind.key + "_on", enable)) return UNKNOWN_ERROR;
    this.enable = enable;
    this.onChange();
    return {};
  }

  /** Reads and orders the fields as stored and listed. */
  private read(params: Params): { [field: string]: unknown } | undefined {
    const fields = this.kind.read(params);
    if (fields === undefined) return undefined;
    const rule: { [field: string]: unknown } = { name: fields.name };
    for (let i = 0; i < this.kind.fields.length; i++) rule[this.kind.fields[i][0]] = fields[this.kind.fields[i][0]];
    return rule;
  }

  private replace(at: number, rule: Rule): MethodResult | KasaError {
    if (!this.store(this.slots[at], this.seeds[at], rule)) return UNKNOWN_ERROR;
    this.rules[at] = rule;
    this.onChange();
    return {};
  }

  private store(slot: number, seed: number, rule: Rule): boolean {
    const values = [seed];
    for (let i = 0; i < this.kind.fields.length; i++) {
      const [name] = this.kind.fields[i];
      values.push(name === "wday" ? wdayMask(rule.wday as number[]) : (rule[name] as number));
    }
    return this.settings.put(this.kind.key + slot, pack(values, this.kind.ranges) + (rule.name as string));
  }

  private newSeed(): number {
    const b = this.random(4);
    return ((b[0] & 0x3f) * 0x1000000 + b[1] * 0x10000 + b[2] * 0x100 + b[3]) >>> 0;
  }

  private find(id: string): number {
    const wanted = id.toUpperCase();
    for (let i = 0; i < this.rules.length; i++) if (this.rules[i].id === wanted) return i;
    return -1;
  }
}

function wdayMask(days: readonly number[]): number {
  let mask = 0;
  for (let i = 0; i < 7; i++) if (days[i] === 1) mask += 1 << i;
  return mask;
}

function wdayList(mask: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 7; i++) out.push((mask >> i) & 1);
  return out;
}

/** Rule changes wait for the clock: a rule means nothing without the time (PROTOCOL §2.0, -11). */
export function whenTimeKnown(plug: PlugContext, change: () => MethodResult | KasaError): MethodResult | KasaError {
  return plug.clock.synced() ? change() : TIME_NOT_SYNC;
}

/** The methods schedule and anti_theft share: get_rules, add/edit/delete, and the overall switch. */
export function ruleMethods(table: (plug: PlugContext) => RuleTable, listed: (plug: PlugContext, rules: Rule[]) => Rule[] = (_p, r) => r): Module {
  return {
    get_rules: (plug: PlugContext) => {
      const t = table(plug);
      return { rule_list: listed(plug, t.list()), enable: t.enable, version: 2 };
    },
    add_rule: (plug: PlugContext, params: Params) => whenTimeKnown(plug, () => table(plug).add(params)),
    edit_rule: (plug: PlugContext, params: Params) => whenTimeKnown(plug, () => table(plug).edit(params)),
    delete_rule: (plug: PlugContext, params: Params) => whenTimeKnown(plug, () => table(plug).remove(params)),
    delete_all_rules: (plug: PlugContext) => whenTimeKnown(plug, () => table(plug).clear()),
    set_overall_enable: (plug: PlugContext, params: Params) => whenTimeKnown(plug, () => table(plug).setEnable(params)),
  };
}

export function readWday(value: unknown): number[] | undefined {
  if (!Array.isArray(value) || value.length !== 7) return undefined;
  const out: number[] = [];
  for (let i = 0; i < 7; i++) {
    const f = flag(value[i]);
    if (f === undefined) return undefined;
    out.push(f);
  }
  return out;
}

/** An optional integer field: its default when absent, undefined when present but invalid. */
export function optionalInt(params: Params, key: string, min: number, max: number, fallback: number): number | undefined {
  return has(params, key) ? int(params[key], min, max) : fallback;
}

/**
 * Longest rule name, bytes of UTF-8. The budget is one setting, MAX_VALUE_BYTES (60): seed and
 * fields packed take 17 characters for a schedule rule, 16 for an away rule, 9 for the countdown, so
 * a 32-byte name leaves 11 bytes spare at the most (host-tests/settings-crash.test.ts checks it).
 */
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

/** The stored form of a one-shot date (year 0 for repeating rules). */
export const DATE_FIELDS: readonly RuleField[] = Object.freeze([
  Object.freeze(["year", 0, 2099] as const),
  Object.freeze(["month", 0, 12] as const),
  Object.freeze(["day", 0, 31] as const),
]);
