// Crash-safe settings (src/core/storage/safe-store.ts): a power cut at every step of every kind of settings
// write, on a store that behaves as Preference does on an ESP8266; each test's name says how many
// cut points its operation has. After each cut the store is opened again, as at the next boot, and
// every setting must read as its value before the operation or after it: never garbage, never a
// default where a value existed, and settings the operation did not touch unchanged. Also: bit flips
// in stored records, migration from settings without checks, and the host file's backup.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COUNTDOWN_RULES } from "../src/core/rules/countdown.js";
import { AWAY_RULES } from "../src/core/modules/anti_theft.js";
import { SCHEDULE_RULES } from "../src/core/modules/schedule.js";
import { DIGITS, packedLength } from "../src/core/storage/pack.js";
import { MAX_RULE_NAME_BYTES } from "../src/core/rules/rules.js";
import { CHECK_CHARS, checkOf, MAX_SAFE_KEY_CHARS, SafeStore } from "../src/core/storage/safe-store.js";
import { IDENTITY_KEYS, KEY, MAX_VALUE_BYTES, Settings } from "../src/core/storage/settings.js";
import { RELAY_SAVE_DELAY_MS, SETTINGS_SAVE_DELAY_MS } from "../src/core/timing.js";
import { utf8Decode, utf8Encode, utf8Length } from "../src/core/protocol/wire/utf8.js";
import { FileStore } from "../src/host/store.js";
import { MemoryStore, testPlug, type TestPlug } from "./support/fakes.js";

/** What a cut append leaves of its record: the bytes written so far, then erased flash (0xFF) or noise. */
type Tear = "prefix" | "erased" | "noise";
const TEARS: readonly Tear[] = ["prefix", "erased", "noise"];

/**
 * Preference on an ESP8266 as a power cut sees it (modPreference.c): `set` zeroes the key's old
 * record (one step, when there is one), then appends the new record, one step per value byte after
 * the header; `delete` zeroes a record (one step; nothing for a missing key). `plan` chooses the
 * step at which the power goes; `arm` starts counting. From the cut on, nothing reaches the flash.
 */
class Flash extends MemoryStore {
  steps = 0;
  dead = false;
  private cutAt = Infinity;
  private counting = false;
  private tear: Tear = "prefix";

  constructor(values?: ReadonlyMap<string, string>) {
    super();
    if (values !== undefined) for (const [k, v] of values) this.values.set(k, v);
  }

  plan(cutAt: number, tear: Tear): this {
    this.cutAt = cutAt;
    this.tear = tear;
    return this;
  }

  arm(): void {
    this.counting = true;
    this.steps = 0;
  }

  /** Whether the next step happens (false: the power went just before it, and stays off). */
  private step(): boolean {
    if (this.dead) return false;
    if (!this.counting) return true;
    if (this.steps === this.cutAt) {
      this.dead = true;
      return false;
    }
    this.steps++;
    return true;
  }

  override write(key: string, value: string): boolean {
    if (this.dead || key.length > 15 || utf8Length(value) > 63) return false; // refused before any flash write
    if (this.values.has(key)) {
      if (!this.step()) return false;
      this.values.delete(key); // the old record, zeroed
    }
    if (!this.step()) return false; // the append never began
    const bytes = utf8Encode(value);
    for (let written = 0; written < bytes.length; written++) {
      if (!this.step()) {
        this.values.set(key, torn(bytes, written, this.tear));
        return false;
      }
    }
    this.values.set(key, value);
    this.writes++;
    return true;
  }

  override remove(key: string): void {
    if (this.values.has(key) && this.step()) this.values.delete(key);
  }
}

/** The value a torn record reads as (PreferenceStore decodes the record's bytes). */
function torn(bytes: Uint8Array, written: number, tear: Tear): string {
  if (tear === "prefix") return utf8Decode(bytes, 0, written);
  const out = bytes.slice();
  for (let i = written; i < out.length; i++) out[i] = tear === "erased" ? 0xff : DIGITS.charCodeAt((i * 29 + written * 7 + 3) & 63);
  return utf8Decode(out);
}

/** The settings as the next boot sees them: the store opened (and tidied) on a copy. */
function settingsOf(values: ReadonlyMap<string, string>): Map<string, string> {
  const store = new SafeStore(new Flash(values));
  const out = new Map<string, string>();
  for (const key of store.keys()) out.set(key, store.read(key)!);
  return out;
}

/** Each setting: its value now must be its value before or after; undefined only where one of them is. */
function expectOldOrNew(label: string, now: ReadonlyMap<string, unknown>, before: ReadonlyMap<string, unknown>, after: ReadonlyMap<string, unknown>): void {
  const keys = new Set([...before.keys(), ...after.keys(), ...now.keys()]);
  for (const key of keys) {
    const value = JSON.stringify(now.get(key));
    const allowed = [JSON.stringify(before.get(key)), JSON.stringify(after.get(key))];
    if (!allowed.includes(value)) expect.fail(`${label}: ${key} is ${value}, neither its old ${allowed[0]} nor its new ${allowed[1]}`);
  }
}

/** After opening, each setting has exactly one record and it is good; the marker is there. */
function expectTidy(label: string, raw: Flash): void {
  for (const [slot, record] of raw.values) {
    if (slot === "~v") continue;
    const key = slot.endsWith("~") ? slot.slice(0, -1) : slot;
    const other = slot.endsWith("~") ? key : key + "~";
    if (raw.values.has(other)) expect.fail(`${label}: ${key} still has both slots after opening`);
    if (record.slice(0, CHECK_CHARS) !== checkOf(key, record.slice(CHECK_CHARS))) expect.fail(`${label}: ${slot} holds a bad record after opening`);
  }
  expect(raw.values.get("~v"), label).toBe("1");
}

const ALIAS_BEFORE = "Küche 🔌";
const ALIAS_AFTER = "客厅灯 desk lamp";

/** A plug's visible state, one entry per thing a setting holds (rules one each, by id). */
async function observe(t: TestPlug): Promise<Map<string, unknown>> {
  const a = await t.ask({
    system: { get_sysinfo: {} },
    time: { get_timezone: {} },
    schedule: { get_rules: {}, get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 } },
    anti_theft: { get_rules: {} },
    count_down: { get_rules: {} },
  });
  const info = a.system.get_sysinfo;
  const out = new Map<string, unknown>([
    ["relay", info.relay_state], ["led_off", info.led_off], ["alias", info.alias], ["mac", info.mac], ["deviceId", info.deviceId],
    ["model", info.model], ["zone", a.time.get_timezone.index], ["schedule enable", a.schedule.get_rules.enable],
    ["days", a.schedule.get_daystat.day_list], ["months", a.schedule.get_monthstat.month_list],
  ]);
  for (const table of ["schedule", "anti_theft", "count_down"]) for (const r of a[table].get_rules.rule_list) out.set(`${table} ${r.id}`, r);
  return out;
}

/** The plug of these tests: 2024-01-15 12:00 UTC (04:00 in its zone 6, US Pacific), time known. */
const boot = (store: MemoryStore) => testPlug({}, { store });

const weekly = (smin: number, sact: number, name: string) => ({
  stime_opt: 0, smin, sact, enable: 1, repeat: 1, wday: [1, 1, 1, 1, 1, 1, 1], etime_opt: -1, emin: 0, eact: -1, name,
});

/** A plug that has been used: alias, relay on, LED off, zone, rules of each kind, statistics. */
async function usedPlug(): Promise<Map<string, string>> {
  const t = boot(new MemoryStore());
  await t.ask({ system: { set_dev_alias: { alias: ALIAS_BEFORE }, set_led_off: { off: 1 }, set_relay_state: { state: 1 } } });
  t.timers.advance(RELAY_SAVE_DELAY_MS);
  await t.ask({ time: { set_timezone: { year: 2024, month: 1, mday: 15, hour: 4, min: 0, sec: 0, index: 6 } } });
  for (const [smin, sact, name] of [[420, 1, "morning"], [1380, 0, "nuit ☾"]] as const) await t.ask({ schedule: { add_rule: weekly(smin, sact, name) } });
  await t.ask({ anti_theft: { add_rule: { ...weekly(1200, 1, "away"), etime_opt: 0, emin: 1320, frequency: 5 } } });
  await t.ask({ count_down: { add_rule: { enable: 0, delay: 600, act: 1, name: "tea" } } });
  t.timers.advance(90 * 60_000); // statistics counted and written after an hour (and again by stop, below)
  await t.ask({ system: { set_relay_state: { state: 0 } } });
  t.timers.advance(RELAY_SAVE_DELAY_MS);
  await t.ask({ system: { set_relay_state: { state: 1 } } }); // the relay's third write: in its plain slot again
  t.timers.advance(RELAY_SAVE_DELAY_MS);
  t.plug.stop();
  return new Map(t.store.values);
}

/**
 * Runs `operation` once to count its steps, then again from the same state with a cut at each step
 * 0..count (count: no cut) and each kind of tear, and checks the settings (and, with `plug`, the
 * plug booted on them) after each. Returns the number of cut points (count + 1).
 */
async function cutEverywhere(
  before: ReadonlyMap<string, string>,
  operation: (flash: Flash) => unknown,
  plug = false,
): Promise<number> {
  const complete = new Flash(before);
  await operation(complete);
  const count = complete.steps;
  expect(complete.dead).toBe(false);
  const settingsBefore = settingsOf(before);
  const settingsAfter = settingsOf(complete.values);
  const plugBefore = plug ? await observe(boot(new Flash(before))) : undefined;
  const plugAfter = plug ? await observe(boot(new Flash(complete.values))) : undefined;
  for (const tear of TEARS) {
    for (let cut = 0; cut <= count; cut++) {
      const label = `cut at step ${cut} of ${count} (${tear})`;
      const flash = new Flash(before).plan(cut, tear);
      await operation(flash);
      expect(flash.dead, label).toBe(cut < count);
      const reopened = new Flash(flash.values);
      expectOldOrNew(label, settingsOf(reopened.values), settingsBefore, settingsAfter);
      if (plug) {
        const t = boot(reopened);
        expectOldOrNew(`${label}, the plug booted after it`, await observe(t), plugBefore!, plugAfter!);
        t.plug.stop();
      }
      new SafeStore(reopened);
      expectTidy(label, reopened);
    }
  }
  return count + 1;
}

/** Settings as a plug would hold them: some in the plain slot, some in the spare one. */
function storedSettings(): Map<string, string> {
  const raw = new Flash();
  const settings = new Settings(new SafeStore(raw));
  settings.put(KEY.model, "HS110");
  settings.put(KEY.mac, "50:C7:BF:5B:57:7E");
  settings.put(KEY.setupKey, "xehp-4a7d-vkcz");
  settings.put(KEY.alias, "old alias");
  settings.put(KEY.relay, 0);
  settings.put(KEY.relay, 1); // now in "relay~"
  settings.put(KEY.zone, 18);
  settings.put(KEY.scheduleRules + 0, "0000000000000000Xmorning ☀");
  return new Map(raw.values);
}

describe("a power cut at every step of every settings write (ESP8266 Preference model)", () => {
  it("put a new key: 25 cut points × 3 tears, each leaves it absent or complete", async () => {
    expect(await cutEverywhere(storedSettings(), (flash) => {
      const settings = new Settings(new SafeStore(flash));
      flash.arm();
      expect(settings.put(KEY.cloudServer, "devs.example.net:443")).toBe(!flash.dead);
    })).toBe(25);
  });

  it("overwrite a value in its plain slot: 15 cut points × 3 tears, old or new", async () => {
    const before = storedSettings();
    expect(before.has(KEY.alias)).toBe(true);
    expect(await cutEverywhere(before, (flash) => {
      const settings = new Settings(new SafeStore(flash));
      flash.arm();
      settings.put(KEY.alias, "new alias");
    })).toBe(15);
  });

  it("overwrite a value in its spare slot, then one in its plain slot: 14 cut points × 3 tears, old or new", async () => {
    const before = storedSettings();
    expect(before.has(KEY.relay + "~")).toBe(true);
    expect(await cutEverywhere(before, (flash) => {
      const settings = new Settings(new SafeStore(flash));
      flash.arm();
      settings.put(KEY.relay, 0);
      settings.put(KEY.zone, 95); // and another, in the same run
    })).toBe(14);
  });

  it("remove: 2 cut points × 3 tears", async () => {
    expect(await cutEverywhere(storedSettings(), (flash) => {
      const settings = new Settings(new SafeStore(flash));
      flash.arm();
      settings.remove(KEY.alias);
    })).toBe(2);
  });

  it("wipe, identity kept (factory reset): 5 cut points × 3 tears", async () => {
    expect(await cutEverywhere(storedSettings(), (flash) => {
      const settings = new Settings(new SafeStore(flash));
      flash.arm();
      settings.wipe(IDENTITY_KEYS);
    })).toBe(5);
  });
});

describe("a power cut at every step of a plug's own writes, the plug booted again after each", () => {
  const state = usedPlug();
  /** Asks, then lets the write delay pass (settings.ts): the change reaches flash. */
  const written = async (t: TestPlug, request: unknown) => {
    await t.ask(request);
    t.timers.advance(SETTINGS_SAVE_DELAY_MS);
  };
  /** A plug on the flash, booted before the counting starts. */
  const plugOn = (flash: Flash) => {
    const t = boot(flash);
    flash.arm();
    return t;
  };

  it("the plug's settings before each operation: rules of each kind, statistics in their spare slots", async () => {
    const keys = [...(await state).keys()].sort();
    expect(keys).toEqual(["alias", "aw0", "cd0", "led_off", "model", "rd0~", "relay", "rm0~", "sc0", "sc1", "setup_key", "zone", "~v"]);
  });

  it("set_relay_state, written 3 s later: 7 cut points × 3 tears", async () => {
    expect(await cutEverywhere(await state, async (flash) => {
      const t = plugOn(flash);
      await t.ask({ system: { set_relay_state: { state: 0 } } });
      t.timers.advance(RELAY_SAVE_DELAY_MS + SETTINGS_SAVE_DELAY_MS);
    }, true)).toBe(7);
  });

  it("set_dev_alias: 25 cut points × 3 tears", async () => {
    expect(await cutEverywhere(await state, async (flash) => {
      await written(plugOn(flash), { system: { set_dev_alias: { alias: ALIAS_AFTER } } });
    }, true)).toBe(25);
  });

  it("schedule add_rule: 29 cut points × 3 tears", async () => {
    expect(await cutEverywhere(await state, async (flash) => {
      await written(plugOn(flash), { schedule: { add_rule: weekly(1020, 1, "evening") } });
    }, true)).toBe(29);
  });

  it("schedule delete_all_rules: 3 cut points × 3 tears, each rule kept whole or gone", async () => {
    expect(await cutEverywhere(await state, async (flash) => {
      await written(plugOn(flash), { schedule: { delete_all_rules: {} } });
    }, true)).toBe(3);
  });

  it("statistics written (a month's days and a year's months): 104 cut points × 3 tears", async () => {
    expect(await cutEverywhere(await state, (flash) => {
      const t = boot(flash);
      t.timers.advance(45 * 60_000); // 45 more minutes on, not written yet
      flash.arm();
      t.plug.context.stats.flush();
      t.timers.advance(SETTINGS_SAVE_DELAY_MS);
    }, true)).toBe(104);
  });

  it("set_timezone: 8 cut points × 3 tears", async () => {
    expect(await cutEverywhere(await state, async (flash) => {
      await written(plugOn(flash), { time: { set_timezone: { year: 2024, month: 1, mday: 15, hour: 13, min: 0, sec: 0, index: 39 } } });
    }, true)).toBe(8);
  });

  it("factory reset: 11 cut points × 3 tears, identity kept at every one", async () => {
    const before = await state;
    expect(await cutEverywhere(before, async (flash) => {
      const t = plugOn(flash);
      t.plug.context.restart.factoryReset();
    }, true)).toBe(11);
  });
});

describe("migration from settings stored without checks", () => {
  /** Settings as a plug stored them before the checks: plain values, no marker. */
  const legacy = new Map<string, string>([
    [KEY.model, "HS110"], [KEY.mac, "50:C7:BF:5B:57:7E"], [KEY.relay, "1"], [KEY.ledOff, "0"], [KEY.alias, "客".repeat(21)], // 63 bytes
    [KEY.zone, "39"], [KEY.scheduleRules + 0, "0WkU0Bgzz00000000morning"], [KEY.iconHash, ""], [KEY.joinSsid, "Café Gäste 📶"],
  ]);
  /** What they read as once migrated: the same, but a value over 60 bytes cut to 60 between characters. */
  const migrated = new Map([...legacy].map(([k, v]) => [k, k === KEY.alias ? "客".repeat(20) : v]));

  it("keeps every value (one over 60 bytes cut to 60 bytes) and marks the store migrated", () => {
    const raw = new Flash(legacy);
    const store = new SafeStore(raw);
    expect(new Map(store.keys().map((k) => [k, store.read(k)]))).toEqual(migrated);
    expectTidy("migrated", raw);
    expect(raw.values.has(KEY.relay)).toBe(false); // each value now in its spare slot
    expect(raw.values.get(KEY.relay + "~")).toBe(checkOf(KEY.relay, "1") + "1");
  });

  it("a cut at any of its 175 cut points × 3 tears loses nothing: the next opening finishes it", () => {
    const complete = new Flash(legacy);
    complete.arm();
    new SafeStore(complete);
    const count = complete.steps;
    expect(count + 1).toBe(175);
    for (const tear of TEARS) {
      for (let cut = 0; cut <= count; cut++) {
        const flash = new Flash(legacy).plan(cut, tear);
        flash.arm();
        new SafeStore(flash);
        expect(flash.dead).toBe(cut < count);
        const label = `migration cut at step ${cut} of ${count} (${tear})`;
        // a legacy value stays until its checked copy is complete
        for (const [k, v] of legacy) if (!flash.values.has(k)) expect(flash.values.get(k + "~"), label).toBe(checkOf(k, migrated.get(k)!) + migrated.get(k));
        const reopened = new Flash(flash.values);
        expect(settingsOf(reopened.values), label).toEqual(migrated);
        new SafeStore(reopened);
        expectTidy(label, reopened);
      }
    }
  });

  it("a plug booted on old settings keeps its alias, relay, zone, rules and identity", async () => {
    const t = boot(new Flash(legacy));
    const info = (await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    expect([info.model, info.mac, info.relay_state, info.alias]).toEqual(["HS110(EU)", "50:C7:BF:5B:57:7E", 1, "客".repeat(20)]);
    expect((await t.ask({ time: { get_timezone: {} } })).time.get_timezone.index).toBe(39);
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toHaveLength(1);
  });

  it("a store that lost its marker is not migrated twice: checked records stay as they are", () => {
    const raw = new Flash(legacy);
    new SafeStore(raw);
    raw.values.delete("~v");
    new Settings(new SafeStore(raw)).put(KEY.alias, "after"); // also one in its plain slot
    raw.values.delete("~v");
    const store = new SafeStore(raw);
    expect(new Map(store.keys().map((k) => [k, store.read(k)]))).toEqual(new Map([...migrated, [KEY.alias, "after"]]));
  });

  it("a store it cannot write to is left as it was and migrated at the next opening", () => {
    const raw = new Flash(legacy);
    raw.failWrites = true;
    const write = raw.write.bind(raw);
    raw.write = (k, v) => !raw.failWrites && write(k, v);
    new SafeStore(raw);
    expect(new Map(raw.values)).toEqual(legacy);
    raw.failWrites = false;
    expect(settingsOf(raw.values)).toEqual(migrated);
  });
});

describe("records damaged in place", () => {
  /** Every single-bit flip of a record's UTF-8 bytes, read back as PreferenceStore decodes them. */
  function* flips(record: string): Generator<string> {
    const bytes = utf8Encode(record);
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = bytes.slice();
        copy[i] ^= 1 << bit;
        yield utf8Decode(copy);
      }
    }
  }

  it("a bit flipped anywhere in a record reads as the other slot's value, or as the default: never as garbage", () => {
    let tried = 0;
    for (const [key, value, other] of [[KEY.alias, ALIAS_BEFORE, "previous"], [KEY.scheduleRules + 3, "0WkU0Bgzz00000000nuit ☾", "0WkU0Bgzz00000000old"], [KEY.relay, "1", "0"]]) {
      const record = checkOf(key, value) + value;
      for (const damaged of flips(record)) {
        tried++;
        const alone = new Flash(new Map([["~v", "1"], [key, damaged]]));
        expect(new SafeStore(alone).read(key), `${key} alone, ${JSON.stringify(damaged)}`).toBeUndefined();
        expect(new Settings(new SafeStore(alone)).text(key, "default")).toBe("default");
        // beside a good record in the other slot (as a cut between a write and its removal leaves them)
        const beside = new Flash(new Map([["~v", "1"], [key, damaged], [key + "~", checkOf(key, other) + other]]));
        expect(new SafeStore(beside).read(key), `${key} beside ${other}, ${JSON.stringify(damaged)}`).toBe(other);
      }
    }
    expect(tried).toBe(8 * (utf8Length(ALIAS_BEFORE) + utf8Length("0WkU0Bgzz00000000nuit ☾") + 1 + 3 * CHECK_CHARS));
  });

  it("both slots good (a cut between a write and its removal): the plain slot is read, and the next write or opening cleans up", () => {
    const raw = new Flash();
    const store = new SafeStore(raw);
    store.write(KEY.alias, "A"); // in the plain slot
    raw.values.set(KEY.alias + "~", checkOf(KEY.alias, "B") + "B");
    expect([store.read(KEY.alias), store.keys()]).toEqual(["A", [KEY.alias]]);
    // remove: the spare slot goes first, so a cut between the two leaves the value that was read
    const cut = new Flash(raw.values).plan(1, "prefix");
    const opened = new SafeStore(cut); // opening removes the spare slot: put it back
    cut.values.set(KEY.alias + "~", checkOf(KEY.alias, "B") + "B");
    cut.arm();
    opened.remove(KEY.alias);
    expect([cut.dead, settingsOf(cut.values).get(KEY.alias)]).toEqual([true, "A"]);
    // a write goes to the spare slot, over the value not read, then removes the plain one
    expect(store.write(KEY.alias, "C")).toBe(true);
    expect([...raw.values.keys()].filter((k) => k.startsWith(KEY.alias))).toEqual([KEY.alias + "~"]);
    // opening keeps the plain slot's value
    raw.values.set(KEY.alias, checkOf(KEY.alias, "D") + "D");
    new SafeStore(raw);
    expect([...raw.values].filter(([k]) => k.startsWith(KEY.alias))).toEqual([[KEY.alias, checkOf(KEY.alias, "D") + "D"]]);
  });
});

describe("SafeStore", () => {
  it("checks with 18 bits of FNV-1a over the UTF-8 of key, NUL and value, in the pack.ts alphabet", () => {
    const fnv = (bytes: Uint8Array) => {
      let h = 0x811c9dc5;
      for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      return h;
    };
    for (const [key, value] of [["relay", "1"], ["alias", "Küche 🔌"], ["alias", ""], ["a", "\ud800 lone"], ["sc0", "客".repeat(20)], ["x", "\u{10ffff}\u07ff\u0800"]]) {
      const h = fnv(new TextEncoder().encode(`${key}\0${value}`));
      const v = (h ^ (h >>> 18)) & 0x3ffff;
      expect(checkOf(key, value)).toBe(DIGITS[v >> 12] + DIGITS[(v >> 6) & 63] + DIGITS[v & 63]);
    }
    expect(checkOf("relay", "1")).not.toBe(checkOf("relay", "0"));
    expect(checkOf("alias", "x")).not.toBe(checkOf("alia", "sx"));
  });

  it("takes keys of 1-14 characters without '~', refuses others; the marker and slots never show in keys()", () => {
    const raw = new Flash();
    const store = new SafeStore(raw);
    expect(MAX_SAFE_KEY_CHARS).toBe(14);
    expect(store.write("k".repeat(14), "v")).toBe(true);
    for (const key of ["k".repeat(15), "", "a~", "~v"]) {
      expect(store.write(key, "v")).toBe(false);
      expect(store.read(key)).toBeUndefined();
    }
    store.write("k".repeat(14), "w"); // now in its spare slot: 15 characters, the store's limit
    expect(raw.values.has("k".repeat(14) + "~")).toBe(true);
    expect(store.keys()).toEqual(["k".repeat(14)]);
    expect(raw.values.get("~v")).toBe("1");
  });

  it("a refused write keeps the old value and answers false", () => {
    const raw = new Flash();
    const settings = new Settings(new SafeStore(raw));
    expect(settings.put(KEY.alias, "kept")).toBe(true);
    raw.failWrites = true;
    const write = raw.write.bind(raw);
    raw.write = (k, v) => !raw.failWrites && write(k, v);
    expect(settings.put(KEY.alias, "lost")).toBe(false);
    expect(settings.text(KEY.alias, "")).toBe("kept");
  });

  it("holds values of 60 bytes: 63-byte records less the check; a rule with the longest name fits", () => {
    expect(MAX_VALUE_BYTES).toBe(60);
    const raw = new Flash();
    const settings = new Settings(new SafeStore(raw));
    expect(settings.put(KEY.alias, "é".repeat(30))).toBe(true);
    expect(settings.put(KEY.alias, "é".repeat(30) + "x")).toBe(false);
    expect(settings.text(KEY.alias, "")).toBe("é".repeat(30));
    for (const kind of [SCHEDULE_RULES, AWAY_RULES, COUNTDOWN_RULES]) expect(packedLength(kind.ranges) + MAX_RULE_NAME_BYTES).toBeLessThanOrEqual(MAX_VALUE_BYTES);
  });
});

describe("the host's settings file", () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "plug-settings-"));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const file = (d: string, name = "settings.json") => JSON.parse(readFileSync(join(d, name), "utf8"));

  it("keeps the file it replaces as settings.json.bak", () => {
    const d = dir();
    const logs: string[] = [];
    const settings = new Settings(new SafeStore(new FileStore(d, (l) => logs.push(l))));
    settings.put(KEY.alias, "one");
    settings.put(KEY.alias, "two");
    expect(settingsOf(new Map(Object.entries(file(d)))).get(KEY.alias)).toBe("two");
    expect(settingsOf(new Map(Object.entries(file(d, "settings.json.bak")))).get(KEY.alias)).toBe("one");
    expect(existsSync(join(d, "settings.json.tmp"))).toBe(false);
    expect(logs).toEqual([]);
  });

  it("a truncated settings.json gives way to settings.json.bak, which the next write does not replace with it", () => {
    const d = dir();
    const settings = new Settings(new SafeStore(new FileStore(d)));
    settings.put(KEY.alias, "one");
    settings.put(KEY.relay, 1);
    const text = readFileSync(join(d, "settings.json"), "utf8");
    writeFileSync(join(d, "settings.json"), text.slice(0, text.length / 2));
    const logs: string[] = [];
    const reopened = new Settings(new SafeStore(new FileStore(d, (l) => logs.push(l))));
    expect(logs).toEqual([expect.stringMatching(/^settings\.json is unreadable \(.*\): settings restored from settings\.json\.bak$/)]);
    expect([reopened.text(KEY.alias, "default"), reopened.int(KEY.relay, 0, 1, 0)]).toEqual(["one", 0]); // one write behind
    reopened.put(KEY.zone, 39);
    expect(settingsOf(new Map(Object.entries(file(d, "settings.json.bak")))).get(KEY.alias)).toBe("one");
    expect(settingsOf(new Map(Object.entries(file(d)))).get(KEY.zone)).toBe("39");
  });

  it("a missing settings.json gives way to settings.json.bak; neither file is a new plug; both bad start from defaults", () => {
    const d = dir();
    new Settings(new SafeStore(new FileStore(d))).put(KEY.alias, "one");
    new Settings(new SafeStore(new FileStore(d))).put(KEY.alias, "two");
    rmSync(join(d, "settings.json"));
    const logs: string[] = [];
    expect(new Settings(new SafeStore(new FileStore(d, (l) => logs.push(l)))).text(KEY.alias, "")).toBe("one");
    expect(logs).toEqual(["settings.json is missing: settings restored from settings.json.bak"]);

    const fresh: string[] = [];
    new FileStore(dir(), (l) => fresh.push(l));
    expect(fresh).toEqual([]);

    const bad = dir();
    writeFileSync(join(bad, "settings.json"), "{");
    writeFileSync(join(bad, "settings.json.bak"), "[]");
    const both: string[] = [];
    expect(new FileStore(bad, (l) => both.push(l)).keys()).toEqual([]);
    expect(both).toEqual([expect.stringMatching(/^settings\.json is unreadable .* and so is settings\.json\.bak \(not a JSON object\): starting from defaults$/)]);
  });
});
