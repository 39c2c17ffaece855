// Energy monitoring through the whole core (issue 7): a simulated CSE7766 or BL0937 on a known load,
// its real signal through the real driver, the emeter module's answers in each unit family, day and
// month statistics across midnight, month and year ends, totals across restarts and power cuts, the
// number of flash writes, erasing, and calibration that changes the readings and survives a reboot.

import { describe, expect, it } from "vitest";
import { CANNOT_CALIBRATE } from "../src/core/protocol/errors.js";
import { ENERGY_SAVE_INTERVAL_MS, SETTINGS_SAVE_DELAY_MS } from "../src/core/timing.js";
import { Cse7766Driver } from "../src/core/energy/meter/cse7766.js";
import { Cse7766Chip, constantLoad, CSE7766_TYPICAL, SimulatedCseSerial, simulatedMeter, wattsOverTime, type LoadProfile, type SimulatedChipModel } from "../src/core/energy/meter/simulate.js";
import { DEFAULT_GAINS, type MeterDriver, type MeterStats, type Reading } from "../src/core/energy/meter/meter.js";
import { utf8Encode } from "../src/core/protocol/wire/utf8.js";
import { FakeClock, FakeTimers, MemoryStore, preferenceRecordBytes, testPlug, type TestPlug } from "./support/fakes.js";
import { numberTokens, pythonKasaRealtimeFailures } from "./support/python-kasa-emeter.js";
import { answerText } from "./support/wire.js";
import { report } from "./support/report.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** A store that counts the writes of each energy setting (SafeStore's two slots count as one key). */
class CountingStore extends MemoryStore {
  readonly energyWrites = new Map<string, number>();
  override write(key: string, value: string): boolean {
    const ok = super.write(key, value);
    const base = key.endsWith("~") ? key.slice(0, -1) : key;
    if (ok && (base === "e_tot" || base.startsWith("ed") || base.startsWith("em"))) this.energyWrites.set(base, (this.energyWrites.get(base) ?? 0) + 1);
    return ok;
  }
  get totalEnergyWrites(): number {
    let n = 0;
    for (const v of this.energyWrites.values()) n += v;
    return n;
  }
}

function meterOn(profile: LoadProfile, chip: SimulatedChipModel = "CSE7766") {
  return (timers: FakeTimers, clock: FakeClock) => simulatedMeter(chip, profile, timers, clock);
}

/** A plug whose local time is `local` (a Date.UTC value read as local wall time), on a load. */
function plugAt(model: string, local: number, profile: LoadProfile, store = new CountingStore(), chip: SimulatedChipModel = "CSE7766"): TestPlug {
  const clock = new FakeClock();
  const probe = testPlug({ model }, { store: new MemoryStore(), clock: new FakeClock() });
  const offset = probe.plug.context.clock.toLocalMs(local) - local;
  probe.plug.stop();
  clock.wall = local - offset;
  return testPlug({ model }, { store, clock, meter: meterOn(profile, chip) });
}

async function realtime(t: TestPlug) {
  return (await t.ask({ emeter: { get_realtime: {} } })).emeter.get_realtime;
}

async function days(t: TestPlug, year: number, month: number) {
  return (await t.ask({ emeter: { get_daystat: { year, month } } })).emeter.get_daystat;
}

async function months(t: TestPlug, year: number) {
  return (await t.ask({ emeter: { get_monthstat: { year } } })).emeter.get_monthstat;
}

/** The answer's JSON text exactly as the plug writes it (JSON.parse would hide 60.000000 as 60). */
async function askText(t: TestPlug, request: unknown): Promise<string> {
  return answerText(await t.plug.dispatcher.handle(utf8Encode(JSON.stringify(request)), { afterReply: () => {} }));
}

/** A meter that reads what the test says (whole numbers, or none), its energy counter set by hand. */
class SetMeter implements MeterDriver {
  readonly model = "set";
  reading: Reading | undefined;
  energy = 0;
  start(): void {}
  stop(): void {}
  latest(): Reading | undefined {
    return this.reading;
  }
  energy_mwh(): number {
    return this.energy;
  }
  calibration() {
    return DEFAULT_GAINS;
  }
  setCalibration(): boolean {
    return true;
  }
  calibrate() {
    return undefined;
  }
  stats(): MeterStats {
    return { framesOk: 0, badChecksum: 0, badSync: 0, chipFault: 0, outOfRange: 0, silentPeriods: 0 };
  }
}

function near(actual: number, expected: number, fraction: number) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * fraction);
}

describe("emeter readings through the real driver", () => {
  it("KP115 (v2) reports a 1000 W load in integer mV, mA, mW and Wh", async () => {
    const t = plugAt("KP115", Date.UTC(2024, 0, 15, 10, 0), constantLoad(1000, 230));
    t.timers.advance(MINUTE);
    const r = await realtime(t);
    expect(Object.keys(r).sort()).toEqual(["current_ma", "err_code", "power_mw", "total_wh", "voltage_mv"]);
    for (const k of ["current_ma", "power_mw", "total_wh", "voltage_mv"]) expect(Number.isInteger(r[k])).toBe(true);
    near(r.power_mw, 1_000_000, 0.01);
    near(r.voltage_mv, 230_000, 0.01);
    near(r.current_ma, 4348, 0.02);
    t.timers.advance(HOUR - MINUTE);
    near((await realtime(t)).total_wh, 1000, 0.01);
  });

  it("HS110 (v1) reports the same load in V, A, W and kWh floats, and the same family in its statistics", async () => {
    const t = plugAt("HS110", Date.UTC(2024, 0, 15, 10, 0), constantLoad(1000, 230));
    t.timers.advance(2 * HOUR);
    const r = await realtime(t);
    expect(Object.keys(r).sort()).toEqual(["current", "err_code", "power", "total", "voltage"]);
    near(r.power, 1000, 0.01);
    near(r.voltage, 230, 0.01);
    near(r.current, 4.348, 0.02);
    near(r.total, 2, 0.01);
    const d = await days(t, 2024, 1);
    expect(d.day_list).toHaveLength(1);
    expect(Object.keys(d.day_list[0]).sort()).toEqual(["day", "energy", "month", "year"]);
    near(d.day_list[0].energy, 2, 0.01);
    const m = await months(t, 2024);
    expect(m.month_list).toEqual([{ year: 2024, month: 1, energy: d.day_list[0].energy }]);
  });

  it("HS110 (v1) writes every value with 6 decimals as its firmware does, whole ones and 0 too; KP115 (v2) integers", async () => {
    const at = Date.UTC(2024, 0, 15, 10, 0);
    const meters = new Map<string, SetMeter>();
    const plugs = new Map<string, TestPlug>();
    for (const model of ["HS110", "KP115"]) {
      const meter = new SetMeter();
      meters.set(model, meter);
      const probe = plugAt(model, at, constantLoad(0)); // only for its clock
      plugs.set(model, testPlug({ model }, { clock: probe.clock, meter: () => meter }));
      probe.plug.stop();
    }
    const request = { emeter: { get_realtime: {}, get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 } } };
    const hs110 = plugs.get("HS110")!;
    const kp115 = plugs.get("KP115")!;

    // nothing plugged in yet, no energy: every v1 value is a float all the same
    meters.get("HS110")!.reading = { voltage_mv: 230_000, current_ma: 0, power_mw: 0, energy_mwh: 0, at: 0 };
    let text = await askText(hs110, { emeter: { get_realtime: {} } });
    expect(text).toContain('"get_realtime":{"voltage":230.000000,"current":0.000000,"power":0.000000,"total":0.000000,"err_code":0}');
    expect(pythonKasaRealtimeFailures(text)).toEqual([]);

    // 60 W and 2 kWh (on today), then 1.172 kWh more: daystat and monthstat as the fixtures show them
    for (const m of meters.values()) {
      m.reading = { voltage_mv: 231_067, current_ma: 261, power_mw: 60_000, energy_mwh: 0, at: 0 };
      m.energy = 2_000_000;
    }
    for (const t of plugs.values()) t.timers.advance(MINUTE);
    text = await askText(hs110, request);
    expect(text).toContain('"get_realtime":{"voltage":231.067000,"current":0.261000,"power":60.000000,"total":2.000000,"err_code":0}');
    expect(text).toContain('"day_list":[{"year":2024,"month":1,"day":15,"energy":2.000000}]');
    expect(text).toContain('"month_list":[{"year":2024,"month":1,"energy":2.000000}]');
    expect(pythonKasaRealtimeFailures(text)).toEqual([]);
    for (const m of meters.values()) m.energy += 1_172_000;
    for (const t of plugs.values()) t.timers.advance(MINUTE);
    text = await askText(hs110, request);
    expect(numberTokens(text, "energy")).toEqual(["3.172000", "3.172000"]);
    expect(numberTokens(text, "total")).toEqual(["3.172000"]);
    // what python-kasa reads is the same numbers as before
    const answer = JSON.parse(text).emeter;
    expect(answer.get_realtime).toEqual({ voltage: 231.067, current: 0.261, power: 60, total: 3.172, err_code: 0 });
    expect(answer.get_daystat.day_list).toEqual([{ year: 2024, month: 1, day: 15, energy: 3.172 }]);

    // v2 stays in integers
    text = await askText(kp115, request);
    expect(text).toContain('"get_realtime":{"voltage_mv":231067,"current_ma":261,"power_mw":60000,"total_wh":3172,"err_code":0}');
    expect(text).toContain('"day_list":[{"year":2024,"month":1,"day":15,"energy_wh":3172}]');
    expect(text).toContain('"month_list":[{"year":2024,"month":1,"energy_wh":3172}]');
  });

  it("a BL0937 (pulse chip) on the same load gives the same answers", async () => {
    const t = plugAt("KP115", Date.UTC(2024, 0, 15, 10, 0), constantLoad(1500, 230), new CountingStore(), "BL0937");
    t.timers.advance(30 * MINUTE);
    const r = await realtime(t);
    near(r.power_mw, 1_500_000, 0.02);
    near(r.voltage_mv, 230_000, 0.02);
    near(r.total_wh, 750, 0.02);
  });

  it("a silent chip reads zero power, and the total it counted stays", async () => {
    const clock = new FakeClock();
    let serial: SimulatedCseSerial | undefined;
    const t = testPlug({ model: "KP115" }, {
      clock,
      meter: (timers, c) => {
        serial = new SimulatedCseSerial(new Cse7766Chip(constantLoad(2000), c), timers);
        return new Cse7766Driver({ serial, clock: c });
      },
    });
    t.timers.advance(HOUR);
    serial!.muted = true;
    t.timers.advance(5000);
    const r = await realtime(t);
    expect([r.voltage_mv, r.current_ma, r.power_mw]).toEqual([0, 0, 0]);
    near(r.total_wh, 2000, 0.01);
  });

  it("no energy on the statistics for an idle plug, and sysinfo says ENE only where there is a meter", async () => {
    const t = plugAt("KP115", Date.UTC(2024, 0, 15, 10, 0), constantLoad(0));
    t.timers.advance(HOUR);
    expect(await realtime(t)).toMatchObject({ power_mw: 0, current_ma: 0, total_wh: 0 });
    near((await realtime(t)).voltage_mv, 230_000, 0.01);
    expect((await days(t, 2024, 1)).day_list).toEqual([]);
    expect((await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.feature).toBe("TIM:ENE");
    expect((await testPlug({ model: "HS100" }).ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.feature).toBe("TIM");
  });
});

describe("energy statistics", () => {
  it("puts energy on the local day it was used, across midnight, and lists only days with energy", async () => {
    const t = plugAt("KP115", Date.UTC(2024, 0, 15, 23, 0), constantLoad(1200));
    t.timers.advance(2 * HOUR);
    const list = (await days(t, 2024, 1)).day_list;
    expect(list.map((d: { day: number }) => d.day)).toEqual([15, 16]);
    for (const d of list) {
      expect(Object.keys(d).sort()).toEqual(["day", "energy_wh", "month", "year"]);
      near(d.energy_wh, 1200, 0.02);
    }
    expect((await days(t, 2024, 2)).day_list).toEqual([]);
  });

  it("crosses a month end and a year end into the right month and year", async () => {
    const t = plugAt("KP115", Date.UTC(2023, 11, 31, 22, 0), wattsOverTime([[0, 600], [HOUR, 0], [2 * HOUR, 900]]));
    t.timers.advance(3 * HOUR);
    const dec = (await days(t, 2023, 12)).day_list;
    const jan = (await days(t, 2024, 1)).day_list;
    expect(dec).toHaveLength(1);
    expect(dec[0].day).toBe(31);
    near(dec[0].energy_wh, 600, 0.02);
    expect(jan).toHaveLength(1);
    expect(jan[0].day).toBe(1);
    near(jan[0].energy_wh, 900, 0.02);
    expect((await months(t, 2023)).month_list).toEqual([{ year: 2023, month: 12, energy_wh: dec[0].energy_wh }]);
    expect((await months(t, 2024)).month_list).toEqual([{ year: 2024, month: 1, energy_wh: jan[0].energy_wh }]);
    near((await realtime(t)).total_wh, 1500, 0.02);
  });

  it("keeps the current and the previous month's days and the months of two years, also after a restart", async () => {
    const store = new CountingStore();
    const t = plugAt("KP115", Date.UTC(2024, 0, 31, 12, 0), constantLoad(100), store);
    // a day in each of January, February and March: March takes January's place
    t.timers.advance(HOUR);
    t.clock.wall += Date.UTC(2024, 1, 29) - Date.UTC(2024, 0, 31);
    t.timers.advance(HOUR);
    t.clock.wall += Date.UTC(2024, 2, 5) - Date.UTC(2024, 1, 29);
    t.timers.advance(HOUR);
    const check = async (p: TestPlug) => {
      expect((await days(p, 2024, 1)).day_list).toEqual([]);
      expect((await days(p, 2024, 2)).day_list.map((d: { day: number }) => d.day)).toEqual([29]);
      expect((await days(p, 2024, 3)).day_list.map((d: { day: number }) => d.day)).toEqual([5]);
      expect((await months(p, 2024)).month_list.map((m: { month: number }) => m.month)).toEqual([1, 2, 3]);
    };
    await check(t);
    t.plug.stop();
    // January 31 is still on flash (the half of the month March has not written): it must not come back
    await check(testPlug({ model: "KP115" }, { store, clock: t.clock, meter: meterOn(constantLoad(100)) }));
  });

  it("energy used before the time is known goes on the first day the time is known", async () => {
    const clock = new FakeClock(Date.UTC(2024, 0, 15, 12, 0), 1000, false);
    const t = testPlug({ model: "KP115" }, { clock, meter: meterOn(constantLoad(1000)) });
    t.timers.advance(HOUR);
    near((await realtime(t)).total_wh, 1000, 0.01);
    expect((await days(t, 2024, 1)).day_list).toEqual([]);
    clock.isSynced = true;
    t.timers.advance(MINUTE);
    const list = (await days(t, 2024, 1)).day_list;
    expect(list).toHaveLength(1);
    near(list[0].energy_wh, 1017, 0.02);
  });
});

describe("persistence", () => {
  it("total and statistics continue after a restart (stop, boot again on the same flash)", async () => {
    const store = new CountingStore();
    const t = plugAt("KP115", Date.UTC(2024, 0, 15, 10, 0), constantLoad(1000), store);
    t.timers.advance(HOUR + 7 * MINUTE);
    const before = await realtime(t);
    t.plug.stop();
    const again = testPlug({ model: "KP115" }, { store, clock: t.clock, meter: meterOn(constantLoad(1000)) });
    expect((await realtime(again)).total_wh).toBe(before.total_wh);
    again.timers.advance(HOUR);
    near((await realtime(again)).total_wh, before.total_wh + 1000, 0.01);
    const list = (await days(again, 2024, 1)).day_list;
    expect(list).toHaveLength(1);
    near(list[0].energy_wh, (await realtime(again)).total_wh, 0.002);
  });

  it("a power cut loses at most the energy since the last save (30 minutes), never the older total", async () => {
    const store = new CountingStore();
    const t = plugAt("KP115", Date.UTC(2024, 0, 15, 10, 0), constantLoad(1000), store);
    t.timers.advance(2 * HOUR + 20 * MINUTE);
    const live = (await realtime(t)).total_wh;
    // no stop(): the power went; the next boot reads what reached flash
    const after = testPlug({ model: "KP115" }, { store, clock: t.clock, meter: meterOn(constantLoad(1000)) });
    const kept = (await realtime(after)).total_wh;
    expect(kept).toBeLessThanOrEqual(live);
    expect(live - kept).toBeLessThanOrEqual(Math.ceil((1000 * ENERGY_SAVE_INTERVAL_MS) / HOUR) + 10);
    near(kept, 2000, 0.02);
    t.plug.stop();
  });

  it("writes energy to flash at a bounded rate: at most 3 settings per 30 minutes under a steady load", async () => {
    const store = new CountingStore();
    const t = plugAt("KP115", Date.UTC(2024, 0, 15, 0, 30), constantLoad(2000), store);
    t.timers.advance(24 * HOUR + SETTINGS_SAVE_DELAY_MS);
    // 48 saves a day, each the total, one half-month of days and the year of months (each reaches flash SETTINGS_SAVE_DELAY_MS later)
    expect(store.totalEnergyWrites).toBeLessThanOrEqual(3 * 48);
    expect(store.totalEnergyWrites).toBeGreaterThanOrEqual(2 * 48);
    expect(store.energyWrites.get("e_tot")).toBe(48);
    t.plug.stop();
  });

  it("every energy record fits the ESP8266's Preference limits; all of them take under 600 bytes of its 4 KB sector", async () => {
    const store = new CountingStore();
    const t = plugAt("KP115", Date.UTC(2023, 11, 5, 10, 0), constantLoad(4000), store);
    // both halves of two months, in two years
    for (const [month, day] of [[11, 20], [0, 5], [0, 20]] as const) {
      t.timers.advance(HOUR);
      t.clock.wall = Date.UTC(month === 11 ? 2023 : 2024, month, day, 10, 0);
    }
    t.timers.advance(HOUR);
    t.unlock();
    expect((await t.ask({ emeter: { set_vgain_igain: { vgain: 215392, igain: 16835 } } })).emeter.set_vgain_igain).toEqual({ err_code: 0 });
    t.plug.stop();
    let bytes = 0;
    const keys: string[] = [];
    for (const [key, value] of store.values) {
      if (!/^(e_tot|ed\d|em\d|cal)~?$/.test(key)) continue;
      keys.push(key.replace("~", ""));
      const length = new TextEncoder().encode(value).length;
      expect([key, key.length <= 15 && length <= 63]).toEqual([key, true]);
      bytes += preferenceRecordBytes(key, value);
    }
    expect(keys.sort()).toEqual(["cal", "e_tot", "ed0", "ed1", "ed2", "ed3", "em0", "em1"]);
    expect(bytes).toBeLessThan(600);
    report(`energy settings footprint: ${bytes} bytes in ${keys.length} records`);
  });

  it("erase_emeter_stat zeroes the total and the statistics, on flash too", async () => {
    const store = new CountingStore();
    const t = plugAt("HS110", Date.UTC(2024, 0, 15, 10, 0), constantLoad(1000), store);
    t.timers.advance(HOUR);
    expect((await t.ask({ emeter: { erase_emeter_stat: {} } })).emeter.erase_emeter_stat).toEqual({ err_code: 0 });
    expect((await realtime(t)).total).toBe(0);
    expect((await days(t, 2024, 1)).day_list).toEqual([]);
    expect((await months(t, 2024)).month_list).toEqual([]);
    t.plug.stop();
    const again = testPlug({ model: "HS110" }, { store, clock: t.clock, meter: meterOn(constantLoad(1000)) });
    expect((await realtime(again)).total).toBe(0);
    expect((await days(again, 2024, 1)).day_list).toEqual([]);
  });
});

describe("calibration", () => {
  /** A CSE7766 whose measurement is off by `error` (a board's resistor tolerances). */
  function offChip(error: { voltage: number; current: number; power: number }, watts = 1000) {
    return (timers: FakeTimers, clock: FakeClock) =>
      new Cse7766Driver({ serial: new SimulatedCseSerial(new Cse7766Chip(constantLoad(watts, 230), clock, CSE7766_TYPICAL, error), timers), clock });
  }

  it("start_calibration against a known load corrects the readings; the gains survive a reboot, and a factory reset undoes them", async () => {
    const store = new CountingStore();
    const meter = offChip({ voltage: 1.04, current: 0.95, power: 0.97 });
    const t = testPlug({ model: "KP115" }, { store, meter });
    t.timers.advance(5000);
    const off = await realtime(t);
    near(off.voltage_mv, 239_200, 0.005);
    near(off.power_mw, 970_000, 0.01);
    t.unlock(); // behind the presence lock
    expect((await t.ask({ emeter: { start_calibration: { vtarget: 230_000, itarget: 4348 } } })).emeter.start_calibration).toEqual({ err_code: 0 });
    t.timers.advance(2000);
    const on = await realtime(t);
    near(on.voltage_mv, 230_000, 0.005);
    near(on.current_ma, 4348, 0.005);
    near(on.power_mw, 1_000_000, 0.01);
    const gains = (await t.ask({ emeter: { get_vgain_igain: {} } })).emeter.get_vgain_igain;
    near(gains.vgain, 13462 / 1.04, 0.005);
    near(gains.igain, 16835 / 0.95, 0.01);
    t.plug.stop();
    const rebooted = testPlug({ model: "KP115" }, { store, clock: t.clock, meter });
    rebooted.timers.advance(2000);
    near((await realtime(rebooted)).voltage_mv, 230_000, 0.005);
    rebooted.unlock();
    expect((await rebooted.ask({ system: { reset: { delay: 0 } } })).system.reset).toEqual({ err_code: 0 });
    rebooted.timers.advance(1000);
    expect(rebooted.restarts).toBe(1);
    // a reset goes back to the gains the board gives its driver (here none: the chip's constants),
    // so that it undoes a wrong calibration (a 100 W load read as 1,600 W)
    const reset = testPlug({ model: "KP115" }, { store, clock: t.clock, meter });
    expect((await reset.ask({ emeter: { get_vgain_igain: {} } })).emeter.get_vgain_igain).toEqual({ vgain: 13462, igain: 16835, err_code: 0 });
    reset.timers.advance(2000);
    near((await realtime(reset)).voltage_mv, 239_200, 0.005);
  });

  it("set_vgain_igain scales voltage, current and power", async () => {
    const t = testPlug({ model: "HS110" }, { meter: offChip({ voltage: 1, current: 1, power: 1 }) });
    t.timers.advance(3000);
    const before = await realtime(t);
    t.unlock();
    expect((await t.ask({ emeter: { set_vgain_igain: { vgain: Math.round(13462 * 1.1), igain: Math.round(16835 * 0.9) } } })).emeter.set_vgain_igain).toEqual({ err_code: 0 });
    t.timers.advance(2000);
    const after = await realtime(t);
    near(after.voltage / before.voltage, 1.1, 0.002);
    near(after.current / before.current, 0.9, 0.005);
    near(after.power / before.power, 0.99, 0.005);
  });

  it("refuses to calibrate without a load, and refuses gains far off the chip's constants; nothing changes", async () => {
    const t = testPlug({ model: "KP115" }, { meter: offChip({ voltage: 1, current: 1, power: 1 }, 0) });
    t.timers.advance(3000);
    t.unlock();
    expect((await t.ask({ emeter: { start_calibration: { vtarget: 230_000, itarget: 4348 } } })).emeter.start_calibration).toEqual(CANNOT_CALIBRATE);
    const INVALID = { err_code: -3, err_msg: "invalid argument" };
    expect((await t.ask({ emeter: { set_vgain_igain: { vgain: 999999, igain: 16835 } } })).emeter.set_vgain_igain).toEqual(INVALID);
    expect((await t.ask({ emeter: { start_calibration: { vtarget: "230", itarget: 4348 } } })).emeter.start_calibration).toEqual(INVALID);
    expect((await t.ask({ emeter: { get_vgain_igain: {} } })).emeter.get_vgain_igain).toEqual({ vgain: 13462, igain: 16835, err_code: 0 });
    // no meter chip at all: nothing to calibrate against
    const noChip = testPlug({ model: "KP115" });
    noChip.unlock();
    expect((await noChip.ask({ emeter: { start_calibration: { vtarget: 230_000, itarget: 4348 } } })).emeter.start_calibration).toEqual(CANNOT_CALIBRATE);
  });
});
