// Rules that run on the plug (schedule, count_down, anti_theft), the clock they need, their
// persistence and the usage statistics, on a fake clock: every instant below is checked to the
// second against local wall time in the plug's zone.

import { describe, expect, it } from "vitest";
import { MAX_SCHEDULE_RULES } from "../src/core/modules/schedule.js";
import { MAX_AWAY_RULES } from "../src/core/modules/anti_theft.js";
import { SCHEDULE_RULES } from "../src/core/modules/schedule.js";
import { pack, unpack } from "../src/core/storage/pack.js";
import { SafeStore } from "../src/core/storage/safe-store.js";
import { MAX_VALUE_BYTES, Settings } from "../src/core/storage/settings.js";
import { SETTINGS_SAVE_DELAY_MS, STATS_SAVE_INTERVAL_MS } from "../src/core/timing.js";
import { zoneName } from "../src/core/time/zones.js";
import { FakeClock, MemoryStore, preferenceRecordBytes, testPlug, type TestPlug } from "./support/fakes.js";
import { report } from "./support/report.js";

const INVALID = { err_code: -3, err_msg: "invalid argument" };
const NOT_SYNC = { err_code: -11, err_msg: "time not sync" };
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const ALL_DAYS = [1, 1, 1, 1, 1, 1, 1];

const utc = (y: number, mo: number, d: number, h: number, mi: number, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s);
/** A plug whose clock reads `at` (UTC ms), in TP-Link zone `zone` (6: US Pacific, 39: London). */
async function plugAt(at: number, zone = 6, options = {}, shared: { store?: MemoryStore } = {}): Promise<TestPlug> {
  const t = testPlug(options, { clock: new FakeClock(at), ...shared });
  t.switches.length = 0; // the relay's boot state is not a switching
  // the zone with its local time, as the Kasa app sets it (local time read from Node's own tz database)
  if (zone !== 6) await t.ask({ time: { set_timezone: { index: zone, ...localFields(at, zoneName(zone)!) } } });
  return t;
}
function localFields(at: number, timeZone: string) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" }).formatToParts(at);
  const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return { year: n("year"), month: n("month"), mday: n("day"), hour: n("hour"), min: n("minute"), sec: n("second") };
}
const weekly = (smin: number, sact: number, extra = {}) => ({ name: "", enable: 1, wday: ALL_DAYS, repeat: 1, stime_opt: 0, smin, sact, ...extra });
const addRule = async (t: TestPlug, rule: object) => (await t.ask({ schedule: { add_rule: rule } })).schedule.add_rule;
const sysinfo = async (t: TestPlug) => (await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
/** The relay changes as [ISO instant (UTC), on]. */
const switches = (t: TestPlug) => t.switches.map((s) => [new Date(s.at).toISOString().slice(0, 19), s.on]);

describe("time before any source answered", () => {
  it("refuses rule changes with -11 time not sync, answers every read, and accepts rules once set_timezone gave the time", async () => {
    const clock = new FakeClock(0, 1000, false);
    const t = testPlug({ model: "HS105" }, { clock });
    const changes = {
      schedule: { add_rule: weekly(480, 1), edit_rule: { id: "A".repeat(32), ...weekly(480, 1) }, delete_rule: { id: "A".repeat(32) }, delete_all_rules: {}, set_overall_enable: { enable: 1 } },
      anti_theft: { add_rule: { ...weekly(480, 1), etime_opt: 0, emin: 600, frequency: 5 }, delete_all_rules: {}, set_overall_enable: { enable: 0 } },
      count_down: { add_rule: { enable: 1, delay: 60, act: 1, name: "x" }, delete_all_rules: {}, delete_rule: { id: "A".repeat(32) } },
    };
    const answer = await t.ask(changes);
    for (const [module, methods] of Object.entries(changes))
      for (const method of Object.keys(methods)) expect([module, method, answer[module][method]]).toEqual([module, method, NOT_SYNC]);
    const reads = await t.ask({
      schedule: { get_rules: {}, get_next_action: {}, get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 } },
      anti_theft: { get_rules: {} },
      count_down: { get_rules: {} },
    });
    expect(reads.schedule).toEqual({
      get_rules: { rule_list: [], enable: 1, version: 2, err_code: 0 },
      get_next_action: { type: -1, err_code: 0 },
      get_daystat: { day_list: [], err_code: 0 },
      get_monthstat: { month_list: [], err_code: 0 },
    });
    expect(reads.anti_theft.get_rules.rule_list).toEqual([]);
    expect(reads.count_down.get_rules).toEqual({ rule_list: [], err_code: 0 });
    expect((await sysinfo(t)).next_action).toEqual({ type: -1 });
    // the Kasa app's onboarding sends the zone with the date and time
    await t.ask({ time: { set_timezone: { index: 18, year: 2024, month: 5, mday: 1, hour: 9, min: 30, sec: 0 } } });
    expect((await addRule(t, weekly(600, 1))).err_code).toBe(0);
    expect((await t.ask({ time: { get_time: {} } })).time.get_time).toMatchObject({ year: 2024, month: 5, mday: 1, hour: 9, min: 30 });
  });

  it("set_time alone is a time source too", async () => {
    const t = testPlug({}, { clock: new FakeClock(0, 1000, false) });
    expect(await addRule(t, weekly(600, 1))).toEqual(NOT_SYNC);
    await t.ask({ time: { set_time: { year: 2024, month: 5, mday: 1, hour: 9, min: 30, sec: 0 } } });
    expect((await addRule(t, weekly(600, 1))).err_code).toBe(0);
  });
});

describe("schedule rules", () => {
  it("a weekly rule switches on its local minute, exactly once a day, on its weekdays only", async () => {
    // Monday 2024-01-15 07:58 PST (UTC-8)
    const t = await plugAt(utc(2024, 1, 15, 15, 58));
    const weekdays = [0, 1, 1, 1, 1, 1, 0];
    await addRule(t, weekly(480, 1, { wday: weekdays }));
    await addRule(t, weekly(1320, 0, { wday: weekdays }));
    t.timers.advance(119_999);
    expect(t.switches).toEqual([]);
    t.timers.advance(1);
    expect(switches(t)).toEqual([["2024-01-15T16:00:00", true]]);
    t.timers.advance(7 * DAY);
    const times = switches(t).map(([at, on]) => `${at} ${on ? "on" : "off"}`);
    expect(times).toEqual([
      "2024-01-15T16:00:00 on", "2024-01-16T06:00:00 off", // 08:00 and 22:00 PST
      "2024-01-16T16:00:00 on", "2024-01-17T06:00:00 off",
      "2024-01-17T16:00:00 on", "2024-01-18T06:00:00 off",
      "2024-01-18T16:00:00 on", "2024-01-19T06:00:00 off",
      "2024-01-19T16:00:00 on", "2024-01-20T06:00:00 off", // Friday; nothing on the weekend
      "2024-01-22T16:00:00 on",
    ]);
  });

  it("spring forward: a rule in the skipped hour runs once, just after the gap; the others on their minute", async () => {
    // US change 2024-03-10: 02:00 PST becomes 03:00 PDT (10:00 UTC)
    const t = await plugAt(utc(2024, 3, 10, 8, 0)); // 00:00 PST
    await addRule(t, weekly(90, 1)); // 01:30
    await addRule(t, weekly(150, 0)); // 02:30: does not exist that day
    await addRule(t, weekly(195, 1)); // 03:15 PDT
    t.timers.advance(6 * HOUR);
    expect(switches(t)).toEqual([
      ["2024-03-10T09:30:00", true], // 01:30 PST
      ["2024-03-10T10:30:00", false], // 02:30 read as PST = 03:30 PDT
    ]);
    // the 03:15 PDT rule (10:15 UTC) found the relay already on: it ran, without a change
    expect(t.logs.filter((l) => l.startsWith("schedule:")).length).toBe(3);
    t.timers.advance(DAY);
    // the next day, every rule on its own minute again (PDT, UTC-7)
    expect(switches(t).slice(2)).toEqual([
      ["2024-03-11T08:30:00", true],
      ["2024-03-11T09:30:00", false],
      ["2024-03-11T10:15:00", true],
    ]);
  });

  it("fall back: a rule in the repeated hour runs once, the first time", async () => {
    // US change 2024-11-03: 02:00 PDT becomes 01:00 PST (09:00 UTC); 01:30 happens twice
    const t = await plugAt(utc(2024, 11, 3, 7, 0)); // 00:00 PDT
    await addRule(t, weekly(90, 1)); // 01:30
    await addRule(t, weekly(120, 0)); // 02:00 PST
    t.timers.advance(4 * HOUR);
    expect(switches(t)).toEqual([
      ["2024-11-03T08:30:00", true], // 01:30 PDT, not again at 01:30 PST (09:30 UTC)
      ["2024-11-03T10:00:00", false], // 02:00 PST
    ]);
    expect(t.logs.filter((l) => l.startsWith("schedule:")).length).toBe(2);
  });

  it("Europe too: London's last-Sunday-of-March change", async () => {
    const t = await plugAt(utc(2025, 3, 29, 23, 0), 39); // Saturday 23:00 GMT
    await addRule(t, weekly(60 + 30, 1)); // 01:30: skipped on 2025-03-30
    await addRule(t, weekly(8 * 60, 0)); // 08:00 BST
    t.timers.advance(10 * HOUR);
    expect(switches(t)).toEqual([
      ["2025-03-30T01:30:00", true], // 01:30 read as GMT = 02:30 BST
      ["2025-03-30T07:00:00", false], // 08:00 BST
    ]);
  });

  it("sunrise and sunset rules switch at the published times plus their offset and list today's minute", async () => {
    // London (Houses of Parliament, 51.5 N 0.125 W), 2025-06-21: sunrise 04:42:38, sunset 21:22:06 BST
    // (the published table used by sun.test.ts)
    const t = await plugAt(utc(2025, 6, 20, 22, 0), 39); // 23:00 BST the day before
    await t.ask({ system: { set_dev_location: { latitude: 51.5, longitude: -0.125 } } });
    const rise = await addRule(t, { ...weekly(0, 1), stime_opt: 1, soffset: 15 });
    await addRule(t, { ...weekly(0, 0), stime_opt: 2, soffset: -30 });
    t.timers.advance(HOUR); // to midnight: today's minutes are known
    const list = (await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list;
    const published = [4 * 60 + 42.6 + 15, 21 * 60 + 22.1 - 30];
    list.forEach((r: { smin: number }, i: number) => expect(Math.abs(r.smin - published[i])).toBeLessThanOrEqual(2));
    expect(list[0].id).toBe(rise.id);
    t.timers.advance(DAY - HOUR);
    const [on, off] = t.switches;
    // within ±2 minutes of published + offset (sun.test.ts's tolerance)
    expect(Math.abs(on.at - (utc(2025, 6, 21, 3, 42, 38) + 15 * 60_000))).toBeLessThanOrEqual(120_000);
    expect(Math.abs(off.at - (utc(2025, 6, 21, 20, 22, 6) - 30 * 60_000))).toBeLessThanOrEqual(120_000);
    expect([on.on, off.on]).toEqual([true, false]);
  });

  it("a one-shot rule runs once on its date and is then disabled", async () => {
    const t = await plugAt(utc(2024, 1, 15, 12, 0)); // 04:00 PST
    const { id } = await addRule(t, { ...weekly(300, 1), repeat: 0, wday: [0, 0, 0, 0, 0, 0, 0], year: 2024, month: 1, day: 16 });
    t.timers.advance(DAY);
    expect(switches(t)).toEqual([]); // not on the 15th
    t.timers.advance(2 * HOUR);
    expect(switches(t)).toEqual([["2024-01-16T13:00:00", true]]);
    const rule = (await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list[0];
    expect(rule).toMatchObject({ id, enable: 0, repeat: 0, year: 2024, month: 1, day: 16 });
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    t.timers.advance(8 * DAY);
    expect(t.switches.length).toBe(2);
  });

  it("an end time switches back (etime_opt/emin/eact), over midnight too", async () => {
    const t = await plugAt(utc(2024, 1, 15, 8, 0)); // 00:00 PST
    await addRule(t, weekly(22 * 60, 1, { etime_opt: 0, emin: 6 * 60, eact: 0 }));
    t.timers.advance(DAY + 7 * HOUR);
    expect(switches(t)).toEqual([
      ["2024-01-16T06:00:00", true], // 22:00
      ["2024-01-16T14:00:00", false], // 06:00 the next morning
    ]);
  });

  it("the overall switch and a disabled rule stop it", async () => {
    const t = await plugAt(utc(2024, 1, 15, 8, 0));
    await addRule(t, weekly(60, 1));
    await addRule(t, weekly(120, 0, { enable: 0 }));
    await t.ask({ schedule: { set_overall_enable: { enable: false } } });
    t.timers.advance(DAY);
    expect(t.switches).toEqual([]);
    expect((await sysinfo(t)).active_mode).toBe("none");
    await t.ask({ schedule: { set_overall_enable: { enable: true } } });
    t.timers.advance(DAY);
    expect(switches(t)).toEqual([["2024-01-16T09:00:00", true]]);
  });

  it("next_action and active_mode tell what comes next", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0), 6, { model: "HS105" }); // 07:00 PST; a generation with next_action
    expect((await sysinfo(t)).next_action).toEqual({ type: -1 });
    const { id } = await addRule(t, weekly(8 * 60 + 30, 1));
    await addRule(t, weekly(23 * 60, 0));
    t.timers.advance(0);
    const info = await sysinfo(t);
    expect(info.next_action).toEqual({ type: 1, id, schd_sec: 30600, action: 1 });
    expect(info.active_mode).toBe("schedule");
    expect((await t.ask({ schedule: { get_next_action: {} } })).schedule.get_next_action).toEqual({ type: 1, id, schd_time: 30600, action: 1, err_code: 0 });
    // a countdown that ends sooner comes first, as type 2 (the KP105 fixture's shape)
    const timer = (await t.ask({ count_down: { add_rule: { enable: 1, delay: 600, act: 0, name: "t" } } })).count_down.add_rule;
    t.timers.advance(0);
    expect((await sysinfo(t)).next_action).toEqual({ type: 2, id: timer.id, schd_sec: 7 * 3600 + 600, action: 0 });
    expect((await sysinfo(t)).active_mode).toBe("count_down");
  });

  it("a clock set forward skips the rules in between; one set back does not run a rule twice", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0)); // 07:00 PST
    await addRule(t, weekly(8 * 60, 1));
    await t.ask({ time: { set_time: { year: 2024, month: 1, mday: 15, hour: 9, min: 0, sec: 0 } } });
    t.timers.advance(HOUR);
    expect(t.switches).toEqual([]);
    await t.ask({ time: { set_time: { year: 2024, month: 1, mday: 15, hour: 7, min: 59, sec: 0 } } });
    t.timers.advance(2 * 60_000);
    expect(t.switches.map((s) => s.on)).toEqual([true]);
  });

  it("invalid rules are refused with -3 and change nothing", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    const bad = [
      { ...weekly(480, 1), smin: 1440 },
      { ...weekly(480, 1), sact: 2 },
      { ...weekly(480, 1), stime_opt: 3 },
      { ...weekly(480, 1), wday: [1, 1, 1] },
      { ...weekly(480, 1), wday: [0, 0, 0, 0, 0, 0, 0] },
      { ...weekly(480, 1), soffset: 1440 },
      { ...weekly(480, 1), name: "n".repeat(33) },
      { ...weekly(480, 1), repeat: 0 }, // a one-shot rule needs its date
      { ...weekly(480, -1) }, // does nothing
      { ...weekly(480, 1), enable: "1" },
    ];
    for (const rule of bad) expect([rule, await addRule(t, rule)]).toEqual([rule, INVALID]);
    const writes = t.store.writes;
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toEqual([]);
    expect(t.store.writes).toBe(writes);
  });
});

describe("count_down", () => {
  const timer = { enable: 1, delay: 90, act: 1, name: "turn on" };

  it("counts down, switches once at the end, and is then disabled", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    const { id } = (await t.ask({ count_down: { add_rule: timer } })).count_down.add_rule;
    expect((await t.ask({ count_down: { add_rule: timer } })).count_down.add_rule).toEqual({ err_code: -10, err_msg: "table is full" });
    t.timers.advance(30_000);
    expect((await t.ask({ count_down: { get_rules: {} } })).count_down.get_rules.rule_list).toEqual([{ id, ...timer, remain: 60 }]);
    expect((await sysinfo(t)).active_mode).toBe("count_down");
    t.timers.advance(59_999);
    expect(t.switches).toEqual([]);
    t.timers.advance(1);
    expect(switches(t)).toEqual([["2024-01-15T15:01:30", true]]);
    t.timers.advance(HOUR);
    expect(t.switches.length).toBe(1);
    expect((await t.ask({ count_down: { get_rules: {} } })).count_down.get_rules.rule_list[0]).toMatchObject({ id, enable: 0 });
    expect((await sysinfo(t)).active_mode).toBe("none");
  });

  it("edit re-arms from now; delete stops it", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    const { id } = (await t.ask({ count_down: { add_rule: timer } })).count_down.add_rule;
    t.timers.advance(60_000);
    await t.ask({ count_down: { edit_rule: { id, ...timer, delay: 120, act: 1 } } });
    t.timers.advance(119_000);
    expect(t.switches).toEqual([]);
    t.timers.advance(1000);
    expect(t.switches.length).toBe(1);
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    await t.ask({ count_down: { edit_rule: { id, ...timer } } });
    await t.ask({ count_down: { delete_rule: { id } } });
    t.timers.advance(HOUR);
    expect(t.switches.length).toBe(2);
  });

  it("a restart resumes it once the time is known, and one that ended while the plug was off switches then", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    await t.ask({ count_down: { add_rule: { ...timer, delay: 600 } } });
    t.timers.advance(100_000);
    // power cut: a new plug on the same flash; the time comes 20 s after boot (SNTP)
    t.clock.advance(5_000);
    t.clock.isSynced = false;
    const again = t.reboot();
    again.timers.advance(20_000);
    t.clock.isSynced = true;
    again.timers.advance(60_000);
    expect((await again.ask({ count_down: { get_rules: {} } })).count_down.get_rules.rule_list[0].remain).toBeGreaterThan(400);
    again.timers.advance(500_000);
    expect(switches(again)).toEqual([["2024-01-15T15:01:45", false], ["2024-01-15T15:10:00", true]]); // boot state, then the end

    const third = await plugAt(utc(2024, 1, 15, 15, 0), 6, {}, {});
    await third.ask({ count_down: { add_rule: { ...timer, delay: 600, act: 0 } } });
    await third.ask({ system: { set_relay_state: { state: 1 } } });
    third.timers.advance(3000); // the relay state reaches flash
    third.clock.advance(HOUR); // off for an hour
    const later = third.reboot();
    later.timers.advance(0);
    expect(later.switches.map((s) => s.on)).toEqual([true, false]); // restored on, then the overdue "off"
    expect(later.logs).toContain("countdown ended while the plug was off");
  });
});

describe("anti_theft (away mode)", () => {
  const away = { name: "", enable: 1, wday: ALL_DAYS, repeat: 1, stime_opt: 0, smin: 18 * 60, etime_opt: 0, emin: 22 * 60, frequency: 5 };

  it("switches at random only inside its window and restores the relay at its end", async () => {
    const t = await plugAt(utc(2024, 1, 15, 8, 0)); // 00:00 PST
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    const { id } = (await t.ask({ anti_theft: { add_rule: away } })).anti_theft.add_rule;
    expect((await t.ask({ anti_theft: { get_next_action: {} } })).anti_theft.get_next_action).toEqual({ err_code: -2, err_msg: "member not support" });
    expect(id).toMatch(/^[0-9A-F]{32}$/);
    expect((await sysinfo(t)).active_mode).toBe("anti_theft");
    t.timers.advance(3 * DAY);
    const toLocalMinute = (at: number) => (((at - 8 * HOUR) % DAY) + DAY) % DAY / 60_000;
    expect(t.switches.length).toBeGreaterThanOrEqual(3 * 8); // about 5 an hour for 4 hours
    for (const s of t.switches) {
      const m = toLocalMinute(s.at);
      expect(m >= 18 * 60 && m <= 22 * 60).toBe(true);
    }
    // each evening ends with the relay as it was before the window (off)
    for (const day of [15, 16, 17]) {
      const end = utc(2024, 1, day + 1, 6, 0);
      const last = t.switches.filter((s) => s.at <= end).at(-1)!;
      expect(last.on).toBe(false);
    }
  });

  it("a window in progress at a restart keeps the relay state from before it", async () => {
    const t = await plugAt(utc(2024, 1, 16, 2, 30)); // 18:30 PST
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    t.timers.advance(3000);
    await t.ask({ anti_theft: { add_rule: away } });
    t.timers.advance(HOUR);
    const again = t.reboot();
    again.timers.advance(3 * HOUR + 30 * 60_000);
    expect(again.switches.at(-1)!.on).toBe(true); // the state before the window, not the one at the restart
    expect(again.logs.some((l) => l.startsWith("away mode ends: relay back on"))).toBe(true);
  });

  it("a window that ended while the plug was off puts the relay back once the time is known", async () => {
    const t = await plugAt(utc(2024, 1, 16, 5, 50)); // 21:50 PST, inside the window
    await t.ask({ anti_theft: { add_rule: away } });
    t.timers.advance(60_000); // the window starts being watched: the relay was off before it
    await t.ask({ system: { set_relay_state: { state: 1 } } }); // as if a random switching had turned it on
    t.timers.advance(3000);
    t.clock.advance(HOUR); // the power fails until 22:54, after the window
    const again = t.reboot();
    again.timers.advance(1000);
    expect(again.switches.map((s) => s.on)).toEqual([true, false]); // restored "last", then the state before the window
    expect(again.logs).toContain("away mode ended while the plug was off: relay back off");
  });

  it("a window follows its rule through an edit, ends when the rule is deleted, and a one-shot rule is disabled after its window", async () => {
    const t = await plugAt(utc(2024, 1, 16, 2, 30)); // 18:30 PST, inside the window
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    const other = (await t.ask({ anti_theft: { add_rule: { ...away, smin: 60, emin: 120 } } })).anti_theft.add_rule;
    const { id } = (await t.ask({ anti_theft: { add_rule: away } })).anti_theft.add_rule;
    t.timers.advance(60_000);
    expect(t.logs.filter((l) => l.startsWith("away mode:"))).toEqual([`away mode: rule ${id} switches at random until 22:00`]);
    // a new name and frequency: the same rule (its id), so the same window goes on
    expect((await t.ask({ anti_theft: { edit_rule: { id: id.toLowerCase(), ...away, name: "evening", frequency: 30 } } })).anti_theft.edit_rule).toEqual({ err_code: 0 });
    t.timers.advance(HOUR);
    expect(t.logs.filter((l) => l.startsWith("away mode"))).toHaveLength(1);
    expect(t.switches.length).toBeGreaterThan(5); // 30 an hour now
    await t.ask({ anti_theft: { delete_rule: { id } } });
    t.timers.advance(60_000);
    expect(t.logs.filter((l) => l.startsWith("away mode")).at(-1)).toBe("away mode ends: relay back off");
    expect(t.switches.at(-1)!.on).toBe(false);
    // a one-shot window tomorrow evening: it runs once, and the rule is then disabled; the other rule's record is untouched
    const records = new Map(t.store.values);
    const once = (await t.ask({ anti_theft: { add_rule: { ...away, name: "once", repeat: 0, year: 2024, month: 1, day: 16 } } })).anti_theft.add_rule;
    t.timers.advance(DAY + 4 * HOUR);
    expect(t.logs.filter((l) => l.startsWith("away mode")).slice(-2)).toEqual(['away mode: rule "once" switches at random until 22:00', "away mode ends: relay back off"]);
    const rules = (await t.ask({ anti_theft: { get_rules: {} } })).anti_theft.get_rules.rule_list;
    expect(rules.map((r: { id: string; enable: number }) => [r.id, r.enable])).toEqual([[other.id, 1], [once.id, 0]]);
    for (const [key, value] of records) if (/^aw[0-9]/.test(key)) expect([key, t.store.values.get(key)]).toEqual([key, value]);
  });

  it("takes the 5 away rules tplink-smarthome-api's own test suite adds before it deletes any", async () => {
    const t = await plugAt(utc(2024, 1, 16, 2, 30));
    // as the library sends them (its test/plug/away.js): one-shot, weekly, disabled, then two more
    const never = [false, false, false, false, false, false, false];
    const once = { frequency: 5, name: "", enable: 1, stime_opt: 0, etime_opt: 0, day: 16, month: 1, year: 2024, wday: [false, false, true, false, false, false, false], repeat: false };
    const requests = [
      { ...once, smin: 60, emin: 120 },
      { ...once, smin: 120, emin: 240, wday: [true, ...never.slice(1, 6), true], repeat: true, day: 0, month: 0, year: 0 },
      { ...once, smin: 120, emin: 600, name: "disabled", enable: 0 },
      { ...once, smin: 60, emin: 240 },
      { ...once, smin: 60, emin: 240 },
    ];
    for (const rule of requests) expect((await t.ask({ anti_theft: { add_rule: rule } })).anti_theft.add_rule).toMatchObject({ err_code: 0 });
    expect((await t.ask({ anti_theft: { get_rules: {} } })).anti_theft.get_rules.rule_list).toHaveLength(5);
  });

  it("needs a frequency; the table is bounded", async () => {
    const t = await plugAt(utc(2024, 1, 16, 2, 30));
    expect((await t.ask({ anti_theft: { add_rule: { ...away, frequency: undefined } } })).anti_theft.add_rule).toEqual(INVALID);
    for (let i = 0; i < MAX_AWAY_RULES; i++) expect((await t.ask({ anti_theft: { add_rule: away } })).anti_theft.add_rule.err_code).toBe(0);
    expect((await t.ask({ anti_theft: { add_rule: away } })).anti_theft.add_rule).toEqual({ err_code: -10, err_msg: "table is full" });
  });
});

describe("persistence", () => {
  it("rules, their switches and ids survive a restart", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    const rule = { ...weekly(8 * 60 + 30, 1), name: "Küche 🔌 morning", soffset: -5, etime_opt: 2, emin: 0, eact: 0 };
    const { id } = await addRule(t, rule);
    await addRule(t, { ...weekly(60, 0), repeat: 0, year: 2031, month: 12, day: 31 });
    await t.ask({ schedule: { set_overall_enable: { enable: 0 } }, anti_theft: { add_rule: { ...weekly(60, 1), etime_opt: 1, emin: 0, frequency: 9, name: "away" } } });
    const before = await t.ask({ schedule: { get_rules: {} }, anti_theft: { get_rules: {} } });
    const after = await t.reboot().ask({ schedule: { get_rules: {} }, anti_theft: { get_rules: {} } });
    expect(after).toEqual(before);
    expect(after.schedule.get_rules.rule_list[0]).toEqual({ id, ...rule, wday: ALL_DAYS, year: 0, month: 0, day: 0 });
    expect(after.schedule.get_rules.enable).toBe(0);
  });

  it("a damaged rule setting is skipped at boot, not a crash, and its slot is reused", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    const kept = await addRule(t, weekly(600, 1));
    await addRule(t, weekly(700, 0));
    t.timers.advance(SETTINGS_SAVE_DELAY_MS); // on flash
    const [first, second] = [...t.store.values.keys()].filter((k) => /^sc[0-9]+$/.test(k)).sort();
    t.store.values.set(second, "#garbage"); // a character the packing never writes
    t.store.values.set(first, t.store.values.get(first)!.slice(0, 5)); // cut short
    const again = t.reboot();
    expect((await again.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toEqual([]);
    const fresh = await addRule(again, weekly(800, 1));
    expect(fresh.err_code).toBe(0);
    expect(fresh.id).not.toBe(kept.id);
    expect((await again.reboot().ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toMatchObject([{ id: fresh.id, smin: 800 }]);
  });

  it("full tables list the same after a restart, also after edits, a removal and one-shot rules that ran; a change rewrites only its own rule's setting", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0)); // Monday 07:00 PST
    await t.ask({ system: { set_dev_location: { latitude: 47.37, longitude: 8.54 } } });
    const names = ["", "Küche 🔌 morning", "ü".repeat(16), "n".repeat(32), "x"];
    const ids: string[] = [];
    for (let i = 0; i < MAX_SCHEDULE_RULES; i++) {
      const rule =
        i % 5 === 0 ? weekly((i * 70) % 1440, i % 2, { wday: [0, 1, 0, 1, 0, 1, 0] })
        : i % 5 === 1 ? { ...weekly(0, 1), stime_opt: 1, soffset: i - 10 }
        : i % 5 === 2 ? { ...weekly(0, 0), stime_opt: 2, soffset: -i, etime_opt: 0, emin: 1439 - i, eact: 1 }
        : i % 5 === 3 ? { ...weekly(8 * 60 + i, 1), repeat: 0, year: 2024, month: 1, day: 15 } // one-shot, today
        : { ...weekly(600, -1), etime_opt: 0, emin: 700 + i, eact: 0 };
      const added = await addRule(t, { ...rule, name: names[i % names.length] });
      expect([i, added.err_code]).toEqual([i, 0]);
      ids.push(added.id);
    }
    for (let i = 0; i < MAX_AWAY_RULES; i++) await t.ask({ anti_theft: { add_rule: { ...weekly(1000 + i, 1), etime_opt: 0, emin: 1100, frequency: i + 1, name: names[i] } } });
    await t.ask({ count_down: { add_rule: { enable: 0, delay: 3600, act: 1, name: names[2] } } });
    // each rule's setting as stored (SafeStore writes a setting's two slots in turn: read, not raw)
    const records = () => {
      const settings = new SafeStore(t.store);
      return new Map(settings.keys().filter((key) => /^(sc|aw|cd)[0-9]+$/.test(key)).map((key) => [key, settings.read(key)]));
    };
    const read = async (plug: TestPlug) => plug.ask({ schedule: { get_rules: {} }, anti_theft: { get_rules: {} }, count_down: { get_rules: {} } });

    // an edit (the id in lower case) rewrites that rule's setting and no other
    t.timers.advance(SETTINGS_SAVE_DELAY_MS); // the tables on flash
    let before = records();
    const edited = { ...weekly(1234, 0), name: "edited", soffset: 5 };
    expect((await t.ask({ schedule: { edit_rule: { id: ids[7].toLowerCase(), ...edited } } })).schedule.edit_rule).toEqual({ err_code: 0 });
    t.timers.advance(SETTINGS_SAVE_DELAY_MS); // on flash
    let changed = [...records()].filter(([key, value]) => before.get(key) !== value).map(([key]) => key);
    expect(changed).toHaveLength(1);
    const list = (await read(t)).schedule.get_rules.rule_list;
    expect(list[7]).toEqual({ id: ids[7], ...edited, wday: ALL_DAYS, etime_opt: -1, emin: 0, eact: -1, year: 0, month: 0, day: 0 });
    expect(list.map((r: { id: string }) => r.id)).toEqual(ids);

    // a removal removes that setting only
    before = records();
    expect((await t.ask({ schedule: { delete_rule: { id: ids[4] } } })).schedule.delete_rule).toEqual({ err_code: 0 });
    t.timers.advance(SETTINGS_SAVE_DELAY_MS);
    changed = [...before].filter(([key, value]) => records().get(key) !== value).map(([key]) => key);
    expect(changed).toHaveLength(1);
    expect(records().has(changed[0])).toBe(false);

    // the one-shot rules (every fifth from the fourth) run at 08:03, 08:08, 08:13 ... today, and each is then disabled: its own setting rewritten
    before = records();
    t.timers.advance(2 * HOUR);
    const oneShots = ids.map((_, i) => i).filter((i) => i % 5 === 3);
    expect(t.logs.filter((l) => l.startsWith(`schedule: rule "${names[3]}" switches the relay on`))).toHaveLength(oneShots.length);
    changed = [...records()].filter(([key, value]) => before.get(key) !== value).map(([key]) => key);
    expect(changed).toHaveLength(oneShots.length);
    const after = await read(t);
    expect(after.schedule.get_rules.rule_list.filter((r: { repeat: number; enable: number }) => r.repeat === 0).map((r: { id: string; enable: number }) => [r.id, r.enable]))
      .toEqual(oneShots.map((i) => [ids[i], 0]));

    // a restart reads the same rules back, in the same order, with the same ids
    const again = t.reboot();
    again.timers.advance(0);
    expect(await read(again)).toEqual(after);
    expect((await read(again)).schedule.get_rules.rule_list.map((r: { id: string }) => r.id)).toEqual(ids.filter((_, i) => i !== 4));
  });

  it("a rule setting that reads as packed text but holds a value out of its range is skipped at boot", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    const first = await addRule(t, weekly(600, 1, { name: "first" }));
    await addRule(t, weekly(700, 0, { name: "second" }));
    const third = await addRule(t, weekly(800, 1, { name: "third" }));
    t.timers.advance(SETTINGS_SAVE_DELAY_MS); // on flash
    // the second rule's smin (0..1439, 11 bits) made 2047, written with a valid check as the plug writes it
    const settings = new Settings(new SafeStore(t.store));
    const text = settings.text("sc1", "");
    const values = unpack(text, SCHEDULE_RULES.ranges)!;
    expect(values[5]).toBe(700);
    values[5] = 2047;
    expect(settings.put("sc1", pack(values, SCHEDULE_RULES.ranges) + "second")).toBe(true);
    const again = t.reboot();
    const list = (await again.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list;
    expect(list.map((r: { id: string; name: string; smin: number }) => [r.id, r.name, r.smin])).toEqual([[first.id, "first", 600], [third.id, "third", 800]]);
    // its slot is free again
    expect((await addRule(again, weekly(900, 1, { name: "fourth" }))).err_code).toBe(0);
    again.timers.advance(SETTINGS_SAVE_DELAY_MS);
    expect(new Settings(new SafeStore(again.store)).text("sc1", "").endsWith("fourth")).toBe(true);
  });

  it("every table full, with the longest names, and two years of statistics fit the ESP8266's settings sector", async () => {
    const t = await plugAt(utc(2024, 1, 15, 15, 0));
    const name = "ü".repeat(16); // 32 bytes of UTF-8
    for (let i = 0; i < MAX_SCHEDULE_RULES; i++) expect((await addRule(t, { ...weekly(i, 1, { soffset: -1439, etime_opt: 2, emin: 1439, eact: 0 }), name })).err_code).toBe(0);
    for (let i = 0; i < MAX_AWAY_RULES; i++) await t.ask({ anti_theft: { add_rule: { ...weekly(i, 1), etime_opt: 0, emin: 1439, frequency: 60, name } } });
    await t.ask({ count_down: { add_rule: { enable: 1, delay: 86400, act: 1, name } } });
    expect(await t.ask({ system: { set_relay_state: { state: 1 }, set_dev_alias: { alias: "a".repeat(MAX_VALUE_BYTES) } } }))
      .toEqual({ system: { set_relay_state: { err_code: 0 }, set_dev_alias: { err_code: 0 } } });
    // 400 days on: every statistics record is written
    for (let d = 0; d < 400; d++) t.timers.advance(DAY);
    await t.ask({ system: { reboot: {} } });
    t.timers.advance(1000);
    expect(t.restarts).toBe(1);
    let bytes = 0;
    for (const [key, value] of t.store.values) {
      // the stored record (a setting and its check) within the Preference limits: 15-character key, 63-byte value
      expect([key, key.length <= 15 && new TextEncoder().encode(value).length <= 63]).toEqual([key, true]);
      bytes += preferenceRecordBytes(key, value);
    }
    // One 4 KB sector (less its 4-byte signature) holds all of this and what this plug does not store:
    // an HS110's energy records (under 600 bytes, energy.test.ts) and the saved Wi-Fi network (two
    // records of at most 63-byte values in the "wifi" domain: 2 x 80), with room left for one more
    // record of the largest size, which a write needs before it removes the record it replaces
    // (safe-store.ts).
    const largest = preferenceRecordBytes("sc31~", "x".repeat(63));
    expect(bytes + 600 + 2 * 80 + largest).toBeLessThanOrEqual(4096 - 4);
    report(`settings footprint with every table full: ${bytes} bytes in ${t.store.values.size} records`);
  }, 120_000); // 400 simulated days of 64 switchings each: seconds of work, longer on a loaded machine
});

describe("usage statistics", () => {
  it("counts minutes on per local day and month, sparse, and erase_runtime_stat clears them", async () => {
    const t = await plugAt(utc(2024, 1, 31, 8, 0)); // 00:00 PST, Jan 31
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    t.timers.advance(2 * HOUR);
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    t.timers.advance(22 * HOUR); // Feb 1, 00:00
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    t.timers.advance(30 * 60_000);
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    const s = (await t.ask({ schedule: { get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 } } })).schedule;
    expect(s.get_daystat.day_list).toEqual([{ year: 2024, month: 1, day: 31, time: 120 }]);
    expect(s.get_monthstat.month_list).toEqual([{ year: 2024, month: 1, time: 120 }, { year: 2024, month: 2, time: 30 }]);
    expect((await t.ask({ schedule: { get_daystat: { year: 2024, month: 2 } } })).schedule.get_daystat.day_list).toEqual([{ year: 2024, month: 2, day: 1, time: 30 }]);
    await t.ask({ schedule: { erase_runtime_stat: {} } });
    expect((await t.ask({ schedule: { get_monthstat: { year: 2024 } } })).schedule.get_monthstat.month_list).toEqual([]);
  });

  it("reaches flash at most once an hour while on, and completely before a restart", async () => {
    const t = await plugAt(utc(2024, 1, 15, 8, 0));
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    t.timers.advance(3000);
    const writes = t.store.writes;
    t.timers.advance(DAY);
    const statsWrites = t.store.writes - writes;
    // two records (the month's days, the year's months) per flush, one flush an hour
    expect(statsWrites).toBeLessThanOrEqual(2 * (DAY / STATS_SAVE_INTERVAL_MS + 1));
    expect(statsWrites).toBeGreaterThan(0);
    t.timers.advance(30 * 60_000);
    await t.ask({ system: { reboot: {} } });
    t.timers.advance(1000);
    const days = (await t.reboot().ask({ schedule: { get_daystat: { year: 2024, month: 1 } } })).schedule.get_daystat.day_list;
    expect(days).toEqual([
      { year: 2024, month: 1, day: 15, time: 1440 },
      { year: 2024, month: 1, day: 16, time: 30 },
    ]);
  });
});

describe("power-on policy: follow schedule", () => {
  it("applies the last action due today once the time is known", async () => {
    const store = new MemoryStore();
    const t = await plugAt(utc(2024, 1, 15, 15, 0), 6, {}, { store }); // 07:00 PST
    await addRule(t, weekly(7 * 60 + 30, 1));
    await addRule(t, weekly(22 * 60, 0));
    t.timers.advance(3000);
    expect(t.plug.context.device.relay).toBe(false);
    // the power comes back at noon, with no time until SNTP answers
    t.clock.wall = utc(2024, 1, 15, 20, 0);
    t.clock.isSynced = false;
    const follow = t.reboot({ powerOn: "schedule" });
    follow.timers.advance(30_000);
    expect(follow.switches.map((s) => s.on)).toEqual([false]); // the last state meanwhile
    t.clock.isSynced = true;
    follow.timers.advance(60_000);
    expect(follow.switches.map((s) => s.on)).toEqual([false, true]); // 07:30's "on"
    expect(follow.logs).toContain("power-on follows the schedule: relay on");
    // "last" (the default) does not
    const plain = t.reboot();
    plain.timers.advance(120_000);
    expect(plain.switches.map((s) => s.on)).toEqual([true]);
  });
});
