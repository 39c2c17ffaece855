// A table of rules as `schedule`, `anti_theft` and `count_down` keep them (PROTOCOL §5): device-made
// 32-hex ids, a fixed maximum, validation before any change, and each rule in one setting of its
// own ("sc0".."sc19"), packed to fit one setting (60 bytes: the ESP8266's 63-byte Preference value
// less SafeStore's check; pack.ts, safe-store.ts).
//
// A rule's id is 32 hex characters made from a 30-bit seed, so the setting holds 5 characters for
// it, not 32: seed, fields and name fit one value (the name is at most 32 bytes).
//
// In RAM a table is one byte per rule (its settings slot, in list order), a count and the table's
// switch: the rules themselves stay in the settings (flash on a plug), as a real plug keeps them, and
// are read one at a time when they are needed (a change that waits for flash is read from the
// settings' queue, settings.ts). So a table's size costs flash, not the ESP8266's 30 KB of heap
// (docs/MEMORY.md). A rule becomes values only while it is checked or written out: `fields(i)`
// decodes one rule's numbers for the scheduler, `idAt(i)` derives its id from the seed when asked
// (never kept), and get_rules' list is written into the answer straight from the settings (RuleList),
// one rule object at a time.

import type { RandomPort } from "../../ports/ports.js";
import type { PlugContext } from "../protocol/context.js";
import type { MethodResult, Module } from "../protocol/dispatcher.js";
import { member, type JsonOut, type JsonWritable } from "../protocol/wire/json-out.js";
import { ENTRY_NOT_EXIST, INVALID_ARGUMENT, TABLE_FULL, TIME_NOT_SYNC, UNKNOWN_ERROR, type KasaError } from "../protocol/errors.js";
import { pack, packedLength, unpack, type FieldRange } from "../storage/pack.js";
import { flag, has, int, str, type Params } from "../protocol/params.js";
import type { Settings } from "../storage/settings.js";

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
  /** What a rule whose setting cannot be read is taken for: seed 0, every field at its least (a disabled rule). */
  readonly blank: string;
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
  const least: number[] = [];
  for (let i = 0; i < ranges.length; i++) least.push(ranges[i][0]);
  return Object.freeze({
    key, max, read, full: TABLE_FULL, fields: Object.freeze(fields.slice()), ranges: Object.freeze(ranges), packed: packedLength(ranges),
    blank: pack(least, ranges),
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
   * Each rule's settings slot, in list order, as the character codes of a short string (one slot and
   * a chunk of at most 32 characters: cheaper in XS than a typed array and a count). A rule's setting
   * is `pack(seed, fields) + name`.
   */
  private order = "";
  /** Counts the table's changes: a list sent in parts checks that its table did not change in between (RuleList). */
  version = 0;
  /** anyEnabled's answer since the last change: 1 or 0; -1 not known. */
  private anyOn = -1;
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
      this.order += String.fromCharCode(slot);
    }
  }

  get size(): number {
    return this.order.length;
  }

  /**
   * Rule i's setting, read anew (a fresh string, not kept). One the store cannot give back (a write
   * that failed after its change was answered, a failing flash) reads as the kind's blank rule: a
   * disabled rule that can be listed and deleted, never a crash.
   */
  record(i: number): string {
    const text = this.settings.text(this.kind.key + this.order.charCodeAt(i), "");
    // its fields were checked when it was read at boot or written: only a missing one is looked for
    return text.length < this.kind.packed ? this.kind.blank : text;
  }

  // The methods below call unpack themselves rather than through one another: they run under
  // requests (sysinfo, get_rules, edit_rule), and each call level costs XS stack slots.

  /** Rule i's id, derived from its seed (32 hex characters, made anew on every call). */
  idAt(i: number): string {
    return ruleId((unpack(this.record(i), SEED_ONLY) as number[])[0]);
  }

  /** Rule i's seed: what its id is made from, and what tells it apart while its fields change. */
  seedAt(i: number): number {
    return (unpack(this.record(i), SEED_ONLY) as number[])[0];
  }

  nameAt(i: number): string {
    return this.record(i).slice(this.kind.packed);
  }

  /** Rule i's fields, decoded into a fresh object of numbers (wday as a mask): for checking, not kept. */
  fields(i: number): RuleFields {
    const values = unpack(this.record(i), this.kind.ranges) as number[];
    const fields = this.kind.fields;
    const out: { [field: string]: number } = {};
    for (let f = 0; f < fields.length; f++) out[fields[f][0]] = values[f + 1];
    return out;
  }

  /** One field of rule i (wday as a mask). */
  field(i: number, name: string): number {
    const at = this.fieldIndex(name) + 1;
    return (unpack(this.record(i), this.kind.ranges) as number[])[at];
  }

  /** Whether any rule is enabled (its own switch; the table's is `enable`): read once per change of the table (sysinfo asks it each time). */
  anyEnabled(): boolean {
    if (this.anyOn < 0) {
      const at = this.fieldIndex("enable") + 1;
      this.anyOn = 0;
      for (let i = 0; i < this.order.length && this.anyOn === 0; i++) if ((unpack(this.record(i), this.kind.ranges) as number[])[at] === 1) this.anyOn = 1;
    }
    return this.anyOn === 1;
  }

  /** The rule with this id (any case), or -1: each rule's id is derived and compared (at most 32). */
  find(id: string): number {
    const wanted = id.toUpperCase();
    if (wanted.length !== 32) return -1;
    for (let i = 0; i < this.order.length; i++) if (ruleId((unpack(this.record(i), SEED_ONLY) as number[])[0]) === wanted) return i;
    return -1;
  }

  /** The rule whose seed this is, or -1. */
  indexOfSeed(seed: number): number {
    for (let i = 0; i < this.order.length; i++) if ((unpack(this.record(i), SEED_ONLY) as number[])[0] === seed) return i;
    return -1;
  }

  /** The rules as get_rules answers them: written out straight from the settings, one rule object at a time. */
  list(adjust?: ListAdjust, context?: unknown, remain?: number): RuleList {
    return new RuleList(this, adjust, context, remain);
  }

  add(params: Params): MethodResult | KasaError {
    const fields = this.kind.read(params);
    if (fields === undefined) return INVALID_ARGUMENT;
    if (this.order.length >= this.kind.max) return this.kind.full;
    let slot = 0;
    while (this.holds(slot)) slot++;
    let seed = this.newSeed();
    // a poor random source must not hang the plug: after a few draws, the next free seed
    for (let tries = 0; this.indexOfSeed(seed) >= 0; tries++) seed = tries < 4 ? this.newSeed() : (seed + 1) & 0x3fffffff;
    const text = pack(this.valuesOf(seed, fields), this.kind.ranges) + (fields.name as string);
    if (!this.settings.put(this.kind.key + slot, text)) return UNKNOWN_ERROR;
    this.order += String.fromCharCode(slot);
    this.changed();
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
    if (at < 0 || at >= this.order.length) return false;
    const values = unpack(this.record(at), this.kind.ranges) as number[];
    values[this.fieldIndex(field) + 1] = value;
    return this.replace(at, pack(values, this.kind.ranges) + this.nameAt(at)) !== UNKNOWN_ERROR;
  }

  remove(params: Params): MethodResult | KasaError {
    if (typeof params.id !== "string") return INVALID_ARGUMENT;
    const at = this.find(params.id);
    if (at < 0) return ENTRY_NOT_EXIST;
    this.settings.remove(this.kind.key + this.order.charCodeAt(at));
    this.order = this.order.slice(0, at) + this.order.slice(at + 1);
    this.changed();
    return {};
  }

  clear(): MethodResult {
    for (let i = 0; i < this.order.length; i++) this.settings.remove(this.kind.key + this.order.charCodeAt(i));
    this.order = "";
    this.changed();
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

  /** Writes rule `at`'s setting (what the table reads from then on). */
  private replace(at: number, text: string): MethodResult | KasaError {
    if (!this.settings.put(this.kind.key + this.order.charCodeAt(at), text)) return UNKNOWN_ERROR;
    this.changed();
    return {};
  }

  /** Whether settings slot `slot` holds a rule. */
  private holds(slot: number): boolean {
    for (let i = 0; i < this.order.length; i++) if (this.order.charCodeAt(i) === slot) return true;
    return false;
  }

  /** After any change to the rules: a new version, anyEnabled to be read again, and the listener told. */
  private changed(): void {
    this.version++;
    this.anyOn = -1;
    this.listener?.rulesChanged();
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
 * settings as the answer is written (wire/json-out.ts JsonWritable), with no object per rule: each
 * record is unpacked into its numbers and written key by key, the id from its seed digit by digit.
 * Exactly the text JSON.stringify gives for the rule objects real plugs list: id, name, then the
 * fields in the kind's order (wday as 7 flags), then `remain` where the list has one (count_down).
 */
export class RuleList implements JsonWritable {
  /** The table's version at the first pass (once the whole request ran); -1 before it. */
  private version = -1;
  /** A one-rule table's rule (the countdown's) as the first pass read it: kept, it is one short string. */
  private kept: string | undefined = undefined;

  constructor(
    private readonly table: RuleTable,
    private readonly adjust: ListAdjust | undefined,
    private readonly context: unknown,
    /** count_down's seconds left, written after the fields (-1: the delay itself); undefined: none. */
    private readonly remain?: number,
  ) {}

  /**
   * The list as the table is at its first pass (once the whole request ran). Each pass writes it
   * again from the settings (a slow client takes a long answer in parts, server.ts; the table keeps
   * no copy in RAM). A rule that changed between two passes (another client's edit, a one-shot rule
   * done) would make the parts disagree: then the pass throws, and the server drops the connection
   * (its client asks again) rather than send a list that is not one. The countdown's one rule is kept
   * from the first pass instead: it changes on its own when it ends, and python-kasa's update, a long
   * answer, lists it with the other tables.
   */
  writeJson(out: JsonOut): void {
    const table = this.table;
    if (this.version < 0) {
      this.version = table.version;
      if (table.kind.max === 1 && table.size === 1) this.kept = table.record(0);
    } else if (this.version !== table.version && this.kept === undefined) throw new Error("the rules changed while their list was sent");
    const kind = table.kind;
    const n = this.kept !== undefined ? 1 : table.size;
    out.byte(0x5b);
    for (let i = 0; i < n; i++) {
      const record = this.kept ?? table.record(i);
      const values = unpack(record, kind.ranges) as number[];
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
      out.string(record.slice(kind.packed));
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
        out.number(this.remain >= 0 ? this.remain : values[1 + table.fieldIndex("delay")]);
      }
      out.byte(0x7d);
    }
    out.byte(0x5d);
  }
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
