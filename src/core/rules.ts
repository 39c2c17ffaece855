// A table of rules as `schedule`, `anti_theft` and `count_down` keep them (PROTOCOL §5): device-made
// 32-hex ids, a fixed maximum, validation before any change, and each rule in one setting of its
// own ("sc0".."sc19"), packed to fit one setting (60 bytes: the ESP8266's 63-byte Preference value
// less SafeStore's check; pack.ts, safe-store.ts).
//
// A rule's id is 32 hex characters made from a 30-bit seed, so the setting holds 5 characters for
// it, not 32: seed, fields and name fit one value (the name is at most 32 bytes).
//
// In RAM a table is its settings records and nothing more: the text of each rule's setting as read
// or written (at most 60 bytes), its slot, and the table's switch. A rule becomes values only while
// it is checked or written out, one at a time: `fields(i)` decodes one rule's numbers for the
// scheduler, `idAt(i)` derives its id from the seed when asked (never kept), and get_rules' list is
// written into the answer straight from the records (RuleList), one rule object at a time.

import type { RandomPort } from "../ports/ports.js";
import type { PlugContext } from "./context.js";
import type { MethodResult, Module } from "./dispatcher.js";
import type { JsonOut, JsonWritable } from "./wire/json-out.js";
import { ENTRY_NOT_EXIST, INVALID_ARGUMENT, TABLE_FULL, TIME_NOT_SYNC, UNKNOWN_ERROR, type KasaError } from "./errors.js";
import { pack, packedLength, unpack, type FieldRange } from "./pack.js";
import { flag, has, int, str, type Params } from "./params.js";
import type { Settings } from "./settings.js";

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
  /** Characters the packed seed and fields take at the start of a record; the name follows. */
  readonly packed: number;
  readonly read: RuleReader;
  /** The answer when the table is full. */
  readonly full: KasaError;
}

/** One rule's stored numbers by field name, as the scheduler checks them ("wday" as its 7-bit mask, bit 0 Sunday). */
export type RuleFields = { readonly [field: string]: number };

const SEED_RANGE: FieldRange = Object.freeze([0, 0x3fffffff] as const);
/** The ranges to read a record's seed alone (its first 5 characters). */
const SEED_ONLY: readonly FieldRange[] = Object.freeze([SEED_RANGE]);

/** A kind of rule, frozen (its module is preloaded: the tables live in flash, not in the heap). */
export function ruleKind(key: string, max: number, read: RuleReader, fields: readonly RuleField[]): RuleKind {
  const ranges: FieldRange[] = [SEED_RANGE];
  for (let i = 0; i < fields.length; i++) {
    Object.freeze(fields[i]);
    ranges.push(Object.freeze([fields[i][1], fields[i][2]] as const));
  }
  return Object.freeze({
    key, max, read, full: TABLE_FULL, fields: Object.freeze(fields.slice()), ranges: Object.freeze(ranges), packed: packedLength(ranges),
  });
}

/**
 * Word `word` (0-3) of the id made from `seed`: a 32-bit mixer over seed + (word + 1) x the golden
 * ratio, so ids look as random as a plug's. An id is its four words as 32 hex digits.
 */
function idWord(seed: number, word: number): number {
  const x = (seed + Math.imul(word + 1, 0x9e3779b9)) | 0;
  let z = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The character code of hex digit d (0-15, upper case). */
function hexDigit(d: number): number {
  return d < 10 ? 0x30 + d : 0x37 + d;
}

/** The 32-hex id made from a seed (idWord). */
export function ruleId(seed: number): string {
  let id = "";
  for (let word = 0; word < 4; word++) {
    const z = idWord(seed, word);
    for (let shift = 28; shift >= 0; shift -= 4) id += String.fromCharCode(hexDigit((z >>> shift) & 15));
  }
  return id;
}

/** What hears of a rule table's changes: an object, not a function, so that the plug's wiring can be a class (plug.ts). */
export interface RulesListener {
  /** Any change to the table (the scheduler recomputes what comes next). */
  rulesChanged(): void;
}

export class RuleTable {
  /**
   * Each rule's setting as stored (`pack(seed, fields) + name`), checked by unpack when read or
   * written: `unpack` never fails on one. A change replaces the array rather than changing it (a
   * copy of at most 20 references), so that a rule list being sent keeps the rules it started with.
   */
  private records: string[] = [];
  /** Parallel to `records`: each rule's settings slot. */
  private slots: number[] = [];
  enable: 0 | 1 = 1;
  listener: RulesListener | undefined;

  // The boot reads every table here, under its deepest stack: two locals, one read per slot.
  constructor(
    readonly kind: RuleKind,
    private readonly settings: Settings,
    private readonly random: RandomPort,
  ) {
    this.enable = settings.int(kind.key + "_on", 0, 1, 1) as 0 | 1;
    for (let slot = 0; slot < kind.max; slot++) {
      const text = settings.text(kind.key + slot, "");
      // absent or unreadable: the slot is free
      if (text === "" || unpack(text, kind.ranges) === undefined) continue;
      this.records.push(text);
      this.slots.push(slot);
    }
  }

  get size(): number {
    return this.records.length;
  }

  // The methods below call unpack themselves rather than through one another: they run under
  // requests (sysinfo, get_rules, edit_rule), and each call level costs XS stack slots.

  /** Rule i's id, derived from its seed (32 hex characters, made anew on every call). */
  idAt(i: number): string {
    return ruleId((unpack(this.records[i], SEED_ONLY) as number[])[0]);
  }

  /** Rule i's seed: what its id is made from, and what tells it apart while its fields change. */
  seedAt(i: number): number {
    return (unpack(this.records[i], SEED_ONLY) as number[])[0];
  }

  nameAt(i: number): string {
    return this.records[i].slice(this.kind.packed);
  }

  /** Rule i's fields, decoded into a fresh object of numbers (wday as a mask): for checking, not kept. */
  fields(i: number): RuleFields {
    const values = unpack(this.records[i], this.kind.ranges) as number[];
    const fields = this.kind.fields;
    const out: { [field: string]: number } = {};
    for (let f = 0; f < fields.length; f++) out[fields[f][0]] = values[f + 1];
    return out;
  }

  /** One field of rule i (wday as a mask). */
  field(i: number, name: string): number {
    const at = this.fieldIndex(name) + 1;
    return (unpack(this.records[i], this.kind.ranges) as number[])[at];
  }

  /** Whether any rule is enabled (its own switch; the table's is `enable`). */
  anyEnabled(): boolean {
    const at = this.fieldIndex("enable") + 1;
    for (let i = 0; i < this.records.length; i++) if ((unpack(this.records[i], this.kind.ranges) as number[])[at] === 1) return true;
    return false;
  }

  /** The rule with this id (any case), or -1: each rule's id is derived and compared (at most 20). */
  find(id: string): number {
    const wanted = id.toUpperCase();
    if (wanted.length !== 32) return -1;
    for (let i = 0; i < this.records.length; i++) if (ruleId((unpack(this.records[i], SEED_ONLY) as number[])[0]) === wanted) return i;
    return -1;
  }

  /** The rule whose seed this is, or -1. */
  indexOfSeed(seed: number): number {
    for (let i = 0; i < this.records.length; i++) if ((unpack(this.records[i], SEED_ONLY) as number[])[0] === seed) return i;
    return -1;
  }

  /** The records as they are now (the array is replaced, never changed, when a rule changes). */
  recordsNow(): readonly string[] {
    return this.records;
  }

  /** The rules as get_rules answers them: written out straight from the records, one rule object at a time. */
  list(adjust?: ListAdjust, context?: unknown, remain?: number): RuleList {
    return new RuleList(this, adjust, context, remain);
  }

  add(params: Params): MethodResult | KasaError {
    const fields = this.kind.read(params);
    if (fields === undefined) return INVALID_ARGUMENT;
    if (this.records.length >= this.kind.max) return this.kind.full;
    let slot = 0;
    while (this.slots.indexOf(slot) >= 0) slot++;
    let seed = this.newSeed();
    // a poor random source must not hang the plug: after a few draws, the next free seed
    for (let tries = 0; this.indexOfSeed(seed) >= 0; tries++) seed = tries < 4 ? this.newSeed() : (seed + 1) & 0x3fffffff;
    const text = pack(this.valuesOf(seed, fields), this.kind.ranges) + (fields.name as string);
    if (!this.settings.put(this.kind.key + slot, text)) return UNKNOWN_ERROR;
    this.records = this.records.concat(text);
    this.slots.push(slot);
    this.listener?.rulesChanged();
    return { id: ruleId(seed) };
  }

  edit(params: Params): MethodResult | KasaError {
    if (typeof params.id !== "string") return INVALID_ARGUMENT;
    const at = this.find(params.id);
    const fields = this.kind.read(params);
    if (fields === undefined) return INVALID_ARGUMENT;
    if (at < 0) return ENTRY_NOT_EXIST;
    return this.replace(at, pack(this.valuesOf(this.seedAt(at), fields), this.kind.ranges) + (fields.name as string));
  }

  /** Sets one field of rule `at` (a one-shot rule disabled after it ran); false when there is none or it could not be stored. */
  update(at: number, field: string, value: number): boolean {
    if (at < 0 || at >= this.records.length) return false;
    const values = unpack(this.records[at], this.kind.ranges) as number[];
    values[this.fieldIndex(field) + 1] = value;
    return this.replace(at, pack(values, this.kind.ranges) + this.nameAt(at)) !== UNKNOWN_ERROR;
  }

  remove(params: Params): MethodResult | KasaError {
    if (typeof params.id !== "string") return INVALID_ARGUMENT;
    const at = this.find(params.id);
    if (at < 0) return ENTRY_NOT_EXIST;
    this.settings.remove(this.kind.key + this.slots[at]);
    this.records = this.records.slice(0, at).concat(this.records.slice(at + 1));
    this.slots.splice(at, 1);
    this.listener?.rulesChanged();
    return {};
  }

  clear(): MethodResult {
    for (let i = 0; i < this.slots.length; i++) this.settings.remove(this.kind.key + this.slots[i]);
    this.records = [];
    this.slots = [];
    this.listener?.rulesChanged();
    return {};
  }

  setEnable(params: Params): MethodResult | KasaError {
    const enable = flag(params.enable);
    if (enable === undefined) return INVALID_ARGUMENT;
    if (!this.settings.put(this.kind.key + "_on", enable)) return UNKNOWN_ERROR;
    this.enable = enable;
    this.listener?.rulesChanged();
    return {};
  }

  /** Where field `name` is among the kind's fields (its value is at that index + 1 of `values`). */
  fieldIndex(name: string): number {
    const fields = this.kind.fields;
    for (let f = 0; f < fields.length; f++) if (fields[f][0] === name) return f;
    throw new Error(`no rule field ${name}`);
  }

  /** What is stored for these fields (as a RuleReader gave them): the seed, then each field, wday as a mask. */
  private valuesOf(seed: number, fields: { [field: string]: unknown }): number[] {
    const values = [seed];
    for (let f = 0; f < this.kind.fields.length; f++) {
      const name = this.kind.fields[f][0];
      values.push(name === "wday" ? wdayMask(fields.wday as number[]) : (fields[name] as number));
    }
    return values;
  }

  // replace takes the record made (pack(values) + name), not its parts, and writes the setting itself,
  // as add does: what waits on the stack under the settings write, the deepest point of add_rule and
  // edit_rule, is kept small.

  /** Writes rule `at`'s setting; once it is stored, the same text is its record. */
  private replace(at: number, text: string): MethodResult | KasaError {
    if (!this.settings.put(this.kind.key + this.slots[at], text)) return UNKNOWN_ERROR;
    const records = this.records.slice();
    records[at] = text;
    this.records = records;
    this.listener?.rulesChanged();
    return {};
  }

  private newSeed(): number {
    const b = this.random(4);
    return ((b[0] & 0x3f) * 0x1000000 + b[1] * 0x10000 + b[2] * 0x100 + b[3]) >>> 0;
  }
}

function wdayMask(days: readonly number[]): number {
  let mask = 0;
  for (let i = 0; i < 7; i++) if (days[i] === 1) mask += 1 << i;
  return mask;
}

/**
 * What a module changes in a rule's values as it is listed (a frozen module-level function, not a
 * closure per request): `values` are the record's, seed first, then the fields in the kind's order;
 * `context` is what the list was made with. It must give the same result at both passes of the
 * answer writer (they follow each other with nothing in between).
 */
export type ListAdjust = (values: number[], kind: RuleKind, context: unknown) => void;

/**
 * A table's rules in an answer (get_rules' rule_list): a JSON array written straight from the
 * records as the answer is written (wire/json-out.ts JsonWritable), with no object per rule: each
 * record is unpacked into its numbers and written key by key, the id from its seed digit by digit.
 * Exactly the text JSON.stringify gives for the rule objects real plugs list: id, name, then the
 * fields in the kind's order (wday as 7 flags), then `remain` where the list has one (count_down).
 */
export class RuleList implements JsonWritable {
  /** The records as the first pass found them (once the whole request ran). */
  private records: readonly string[] | null = null;

  constructor(
    private readonly table: RuleTable,
    private readonly adjust: ListAdjust | undefined,
    private readonly context: unknown,
    /** count_down's seconds left, written after the fields (-1: the delay itself); undefined: none. */
    private readonly remain?: number,
  ) {}

  /**
   * The list as its first pass found it (once the whole request ran). Each pass writes it again (a
   * slow client takes a long answer in parts, server.ts), from the same records: a rule that changes
   * in between (a countdown ending, another client's edit) replaces the table's array, not this one.
   */
  writeJson(out: JsonOut): void {
    const records = (this.records ??= this.table.recordsNow());
    const kind = this.table.kind;
    out.byte(0x5b);
    for (let i = 0; i < records.length; i++) {
      const values = unpack(records[i], kind.ranges) as number[];
      if (this.adjust !== undefined) this.adjust(values, kind, this.context);
      if (i > 0) out.byte(0x2c);
      out.byte(0x7b);
      out.string("id");
      out.byte(0x3a);
      out.byte(0x22);
      for (let word = 0; word < 4; word++) {
        const z = idWord(values[0], word);
        for (let shift = 28; shift >= 0; shift -= 4) out.byte(hexDigit((z >>> shift) & 15));
      }
      out.byte(0x22);
      member(out, "name");
      out.string(records[i].slice(kind.packed));
      for (let f = 0; f < kind.fields.length; f++) {
        const name = kind.fields[f][0];
        member(out, name);
        if (name !== "wday") out.number(values[f + 1]);
        else {
          out.byte(0x5b);
          for (let d = 0; d < 7; d++) {
            if (d > 0) out.byte(0x2c);
            out.byte(0x30 + ((values[f + 1] >> d) & 1));
          }
          out.byte(0x5d);
        }
      }
      if (this.remain !== undefined) {
        member(out, "remain");
        out.number(this.remain >= 0 ? this.remain : values[1 + this.table.fieldIndex("delay")]);
      }
      out.byte(0x7d);
    }
    out.byte(0x5d);
  }
}

/** Writes `,"name":` (a member after the first). */
function member(out: JsonOut, name: string): void {
  out.byte(0x2c);
  out.string(name);
  out.byte(0x3a);
}

/** Rule changes wait for the clock: a rule means nothing without the time (PROTOCOL §2.0, -11). */
export function whenTimeKnown(plug: PlugContext, change: () => MethodResult | KasaError): MethodResult | KasaError {
  return plug.clock.synced() ? change() : TIME_NOT_SYNC;
}

/** The methods schedule and anti_theft share: get_rules, add/edit/delete, and the overall switch. */
export function ruleMethods(table: (plug: PlugContext) => RuleTable, adjust?: ListAdjust): Module {
  return {
    get_rules: (plug: PlugContext) => {
      const t = table(plug);
      return { rule_list: t.list(adjust, plug), enable: t.enable, version: 2 };
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
