// The flash wear budget (src/core/storage/settings.ts): a client that spams settings changes all day makes
// at most `settingsWritesPerHour` writes an hour, every change is answered as usual and read back at
// once, the last value reaches flash, and a restart, a factory reset or a stop writes what waits.

import { describe, expect, it } from "vitest";
import { UNKNOWN_ERROR } from "../src/core/protocol/errors.js";
import { DEVICE_LIMITS } from "../src/core/limits.js";
import type { PlugOptions } from "../src/core/plug.js";
import { MAX_PENDING_SETTINGS } from "../src/core/storage/settings.js";
import { SETTINGS_SAVE_DELAY_MS } from "../src/core/timing.js";
import { MemoryStore, testPlug, type TestPlug } from "./support/fakes.js";

const HOUR = 60 * 60 * 1000;
const BUDGET = DEVICE_LIMITS.settingsWritesPerHour;
const OPTIONS: PlugOptions = { model: "HS110", presenceLock: false };

/** The platform's store, counting what wears the flash: writes (`writes`) and removals. A setting's write is one of each (safe-store.ts). */
class WearStore extends MemoryStore {
  removals = 0;
  override remove(key: string) {
    if (this.values.has(key)) this.removals++;
    super.remove(key);
  }
}

/** A plug whose first boot's own writes have reached flash; counting starts from there. */
function plug(): TestPlug & { writes: () => number; wear: () => number } {
  const store = new WearStore();
  const t = testPlug(OPTIONS, { store });
  t.timers.advance(SETTINGS_SAVE_DELAY_MS);
  const writes = store.writes;
  const wear = store.writes + store.removals;
  return Object.assign(t, { writes: () => store.writes - writes, wear: () => store.writes + store.removals - wear });
}

/** The same flash booted after a power cut: nothing written on the way out. */
const afterPowerCut = (t: TestPlug) => testPlug(OPTIONS, { store: t.store, clock: t.clock, wifi: t.wifi });

const local = { year: 2024, month: 1, mday: 15, hour: 13, min: 0, sec: 0 };
const ALL_DAYS = [1, 1, 1, 1, 1, 1, 1];
const rule = (smin: number, name: string) => ({ name, enable: 1, wday: ALL_DAYS, repeat: 1, stime_opt: 0, smin, sact: 1 });

/** Each kind of change a client can spam: the request for step i, and what the plug reads back after the last one. */
const KINDS: { name: string; request: (i: number) => object; check: (t: TestPlug, last: number) => Promise<void> }[] = [
  {
    name: "system.set_dev_alias",
    request: (i) => ({ system: { set_dev_alias: { alias: `spam ${i}` } } }),
    check: async (t, last) => expect((await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.alias).toBe(`spam ${last}`),
  },
  {
    name: "system.set_led_off",
    request: (i) => ({ system: { set_led_off: { off: i % 2 } } }),
    check: async (t, last) => expect((await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.led_off).toBe(last % 2),
  },
  {
    name: "time.set_timezone",
    request: (i) => ({ time: { set_timezone: { index: i % 100, ...local } } }),
    check: async (t, last) => expect((await t.ask({ time: { get_timezone: {} } })).time.get_timezone.index).toBe(last % 100),
  },
  {
    name: "schedule.set_overall_enable",
    request: (i) => ({ schedule: { set_overall_enable: { enable: i % 2 } } }),
    check: async (t, last) => expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.enable).toBe(last % 2),
  },
  {
    // a rule added, edited and deleted in turn (the id comes from the add: see below)
    name: "schedule add_rule / edit_rule / delete_rule",
    request: (i) => ({ rule: i }),
    check: async (t, last) => {
      const list = (await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list;
      expect(list.map((r: { smin: number; name: string }) => [r.smin, r.name])).toEqual(ruleState(last));
    },
  },
];

/** What the rule spam leaves after step `last`: step 3k adds, 3k+1 edits, 3k+2 deletes. */
function ruleState(last: number): [number, string][] {
  const phase = last % 3;
  return phase === 0 ? [[last % 1440, `r${last}`]] : phase === 1 ? [[(last + 7) % 1440, `e${last}`]] : [];
}

/** Sends step i of a kind; answers as a real plug does (err_code 0 each). */
async function step(t: TestPlug, kind: (typeof KINDS)[number], i: number, ids: string[]): Promise<void> {
  const request = kind.request(i) as { rule?: number };
  if (request.rule === undefined) {
    const answer = await t.ask(request);
    const [module, method] = Object.entries(request)[0] as unknown as [string, object];
    expect([i, answer[module][Object.keys(method)[0]]]).toEqual([i, { err_code: 0 }]);
    return;
  }
  const phase = i % 3;
  if (phase === 0) {
    const added = (await t.ask({ schedule: { add_rule: rule(i % 1440, `r${i}`) } })).schedule.add_rule;
    expect([i, added.err_code]).toEqual([i, 0]);
    ids[0] = added.id;
  } else if (phase === 1) {
    expect([i, (await t.ask({ schedule: { edit_rule: { id: ids[0], ...rule((i + 7) % 1440, `e${i}`) } } })).schedule.edit_rule]).toEqual([i, { err_code: 0 }]);
  } else {
    expect([i, (await t.ask({ schedule: { delete_rule: { id: ids[0] } } })).schedule.delete_rule]).toEqual([i, { err_code: 0 }]);
  }
}

describe("flash wear budget: a client spamming settings changes for a day", () => {
  for (const kind of KINDS) {
    it(`${kind.name}: at most ${BUDGET} writes an hour, each change read back at once, the last one on flash`, async () => {
      const t = plug();
      const ids: string[] = [];
      // a burst of 5 changes every 10 s for 24 simulated hours (the issue saw 1,000 a second: bursts are what matter)
      let i = 0;
      for (let burst = 0; burst < (24 * HOUR) / 10_000; burst++) {
        for (let k = 0; k < 5; k++) await step(t, kind, i++, ids);
        if (burst % 997 === 0) await kind.check(t, i - 1); // reads see the change at once, whatever waits
        t.timers.advance(10_000);
      }
      // each setting's write: one record written, the other slot removed (a removal: both slots)
      expect(t.writes()).toBeLessThanOrEqual(BUDGET * 24);
      expect(t.wear()).toBeLessThanOrEqual(2 * BUDGET * 24);
      // the last change reaches flash once the budget allows (within the hour), and survives a power cut
      t.timers.advance(HOUR);
      expect(t.wear()).toBeLessThanOrEqual(2 * BUDGET * 25);
      await kind.check(afterPowerCut(t), i - 1);
    });
  }
});

describe("what waits for flash is written before a restart, a factory reset and a stop", () => {
  it("a spammed alias and zone, asked for in the same second as system.reboot, are on flash at the restart", async () => {
    const t = plug();
    for (let i = 0; i < 50; i++) await t.ask({ system: { set_dev_alias: { alias: `a${i}` } }, time: { set_timezone: { index: i, ...local } } });
    await t.ask({ system: { reboot: { delay: 0 } } });
    t.timers.advance(1000);
    expect(t.restarts).toBe(1);
    const after = afterPowerCut(t); // the restart is all it takes: nothing waits for a timer any more
    expect((await after.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.alias).toBe("a49");
    expect((await after.ask({ time: { get_timezone: {} } })).time.get_timezone.index).toBe(49);
  });

  it("a factory reset writes a waiting identity change (kept by the reset) and drops the rest", async () => {
    const t = plug();
    await t.ask({ system: { set_mac_addr: { mac: "02-11-22-33-44-55" }, set_dev_alias: { alias: "wiped" } } });
    t.plug.context.restart.factoryReset();
    const after = afterPowerCut(t);
    const info = (await after.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    expect(info.mac).toBe("02:11:22:33:44:55");
    expect(info.alias).not.toBe("wiped");
  });

  it("a stop writes what waits, even with the hour's budget spent", async () => {
    const t = plug();
    // spend the budget on changes of one setting each written once (8 s apart: past the write delay)
    for (let i = 0; i < BUDGET + 5; i++) {
      await t.ask({ system: { set_dev_alias: { alias: `x${i}` } } });
      t.timers.advance(8000);
    }
    const before = t.wear();
    await t.ask({ system: { set_led_off: { off: 1 } }, schedule: { set_overall_enable: { enable: 0 } } });
    t.timers.advance(10 * 60 * 1000);
    expect(t.wear()).toBe(before); // over budget: waiting
    t.plug.stop();
    const after = afterPowerCut(t);
    const info = (await after.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    expect([info.alias, info.led_off]).toEqual([`x${BUDGET + 4}`, 1]);
    expect((await after.ask({ schedule: { get_rules: {} } })).schedule.get_rules.enable).toBe(0);
  });

  it(`at most ${MAX_PENDING_SETTINGS} settings wait: a change to another one with the budget spent is refused and changes nothing`, async () => {
    const t = plug();
    for (let i = 0; i < BUDGET + 5; i++) {
      await t.ask({ system: { set_dev_alias: { alias: `y${i}` } } });
      t.timers.advance(8000);
    }
    // the budget is spent and the alias waits: rules added now wait beside it, up to the bound, then one more is refused
    const answers: number[] = [];
    for (let i = 0; i < MAX_PENDING_SETTINGS; i++) answers.push((await t.ask({ schedule: { add_rule: rule(600 + i, `w${i}`) } })).schedule.add_rule.err_code);
    expect(answers).toEqual([...Array(MAX_PENDING_SETTINGS - 1).fill(0), UNKNOWN_ERROR.err_code]);
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toHaveLength(MAX_PENDING_SETTINGS - 1);
    // the next window writes them all
    t.timers.advance(HOUR);
    const after = afterPowerCut(t);
    expect((await after.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toHaveLength(MAX_PENDING_SETTINGS - 1);
    expect((await after.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.alias).toBe(`y${BUDGET + 4}`);
  });
});
