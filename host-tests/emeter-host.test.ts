// Energy monitoring on the host target (`npm start -- --model KP115 --load 1500`): virtual plugs over
// real sockets whose load is measured by a simulated chip (CSE7766 frames, BL0937 pulses) through
// the real driver, read by tplink-smarthome-api and by python-kasa's combined update.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "tplink-smarthome-api";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_POINTS, maxWatts, parseLoadArgs, parseProfile, repeatingProfile } from "../src/host/load.js";
import { VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import type { SimulatedChipModel } from "../src/core/energy/meter/simulate.js";
import { convertStatData, emeterStatus, pythonKasaRealtimeFailures } from "./support/python-kasa-emeter.js";
import { RawClient, askOnce, udpAsk } from "./support/raw-client.js";
import { HostPlugs } from "./support/host-plugs.js";

const host = new HostPlugs("plug-emeter-");
const plugs = host.plugs;
const stateDir = (): string => host.stateDir();

// The socket tests run concurrently (each has its own plugs and ports): the file takes as long as its slowest test.
afterAll(() => {
  host.stopAll();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const VOLTS = 230;
/** 3 kW: 0.83 Wh a second, so a watt-hour shows within 1.2 s (a KP115's resolution, an HS110's 0.001 kWh). */
const WATTS = 3000;

async function start(options: Partial<VirtualPlugOptions> = {}): Promise<VirtualPlug & { lines: string[] }> {
  const lines: string[] = [];
  const plug = await VirtualPlug.start({ port: 0, httpPort: 0, log: (l) => lines.push(l), rebootMs: 50, ...options, stateDir: options.stateDir ?? stateDir() });
  plugs.push(plug);
  return Object.assign(plug, { lines });
}

/** A plug with `--load WATTS [--meter chip]` as the command line makes it (parseLoadArgs), relay on. */
async function loaded(model: string, watts = WATTS, chip?: SimulatedChipModel, dir?: string) {
  const spec = parseLoadArgs({ load: String(watts), meter: chip, model })!;
  const plug = await start({ model, stateDir: dir, load: { profile: repeatingProfile(spec.points, spec.volts), chip: spec.chip } });
  await askOnce(plug.port, { system: { set_relay_state: { state: 1 } } });
  return plug;
}

/** Asks until `done` holds (real sockets, the simulated chip on real timers). */
async function poll<T>(ask: () => Promise<T>, done: (v: T) => boolean, what: string, ms = 4000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await ask();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

const within = (value: number, target: number, fraction: number) => Math.abs(value - target) <= target * fraction;

function expectNear(value: unknown, target: number, fraction: number, what: string): void {
  expect(typeof value, what).toBe("number");
  expect(within(value as number, target, fraction), `${what}: ${value} is not within ${fraction * 100} % of ${target}`).toBe(true);
}

/** The plug's own local date (statistics are kept by the plug's day, in its time zone). */
async function plugDate(port: number): Promise<{ year: number; month: number; day: number }> {
  const t = (await askOnce(port, { time: { get_time: {} } })).time.get_time;
  return { year: t.year, month: t.month, day: t.mday };
}

const realtime = (port: number) => askOnce(port, { emeter: { get_realtime: {} } }).then((a) => a.emeter.get_realtime);

describe.concurrent("energy monitoring on the host", () => {
  it("a --factory start undoes a user's calibration: a 100 W load read as 1,600 W reads 100 W again", async () => {
    const dir = stateDir();
    const spec = parseLoadArgs({ load: "100", model: "KP115" })!;
    const load = { profile: repeatingProfile(spec.points, spec.volts), chip: spec.chip };
    // (the lock off, as --no-presence-lock does: the host's button is not pressed here)
    const plug = await start({ model: "KP115", stateDir: dir, load, presenceLock: false });
    await askOnce(plug.port, { system: { set_relay_state: { state: 1 } } });
    await poll(() => realtime(plug.port), (r) => within(r.power_mw, 100_000, 0.02), "100 W");
    expect((await askOnce(plug.port, { emeter: { set_vgain_igain: { vgain: 13462, igain: 16835 * 16 } } })).emeter.set_vgain_igain).toEqual({ err_code: 0 });
    await poll(() => realtime(plug.port), (r) => within(r.power_mw, 1_600_000, 0.02), "1,600 W after the calibration");
    plug.stop();
    const fresh = await start({ model: "KP115", stateDir: dir, load, factory: true });
    await askOnce(fresh.port, { system: { set_relay_state: { state: 1 } } });
    expect((await askOnce(fresh.port, { emeter: { get_vgain_igain: {} } })).emeter.get_vgain_igain).toEqual({ vgain: 13462, igain: 16835, err_code: 0 });
    await poll(() => realtime(fresh.port), (r) => within(r.power_mw, 100_000, 0.02), "100 W after --factory");
  });

  describe("energy on the host with tplink-smarthome-api", () => {
    it("KP115 with a simulated CSE7766 at 3 kW: realtime in both unit families, totals that grow, day and month stats, getInfo, erase", async () => {
      const plug = await loaded("KP115");
      const device: any = await new Client({ defaultSendOptions: { timeout: 3000 } }).getDevice({ host: "127.0.0.1", port: plug.port });
      expect(device.supportsEmeter).toBe(true);
      const first = await poll(() => device.emeter.getRealtime(), (r: any) => r.power_mw > 0, "a reading");
      // the v2 integers the plug sent, and the floats tplink-smarthome-api adds
      for (const key of ["voltage_mv", "current_ma", "power_mw", "total_wh"]) expect(Number.isInteger(first[key]), key).toBe(true);
      expectNear(first.power_mw, WATTS * 1000, 0.02, "power_mw");
      expectNear(first.power, WATTS, 0.02, "power");
      expectNear(first.voltage_mv, VOLTS * 1000, 0.01, "voltage_mv");
      expectNear(first.voltage, VOLTS, 0.01, "voltage");
      expectNear(first.current_ma, (WATTS / VOLTS) * 1000, 0.02, "current_ma");
      expectNear(first.current, WATTS / VOLTS, 0.02, "current");
      expect(first.err_code).toBe(0);

      // energy: 3 kW for ~2 s is ~1.7 Wh; the total is whole Wh, so it is off by at most one
      const t0 = Date.now();
      await sleep(2000);
      const second = await device.emeter.getRealtime();
      const expectedWh = (WATTS * (Date.now() - t0)) / 3_600_000;
      expect(second.total_wh).toBeGreaterThan(first.total_wh);
      expect(Math.abs(second.total_wh - first.total_wh - expectedWh)).toBeLessThanOrEqual(1.2);
      expect(second.total).toBe(second.total_wh / 1000); // kWh, as tplink-smarthome-api normalises

      const { year, month, day } = await plugDate(plug.port);
      const days = await device.emeter.getDayStats(year, month);
      expect(days.err_code).toBe(0);
      const today = days.day_list.find((d: any) => d.day === day);
      expect(today).toMatchObject({ year, month, day });
      expect(today.energy_wh).toBeGreaterThanOrEqual(1);
      expect(today.energy_wh).toBeLessThanOrEqual(second.total_wh + 1);
      expect(days.day_list.every((d: any) => d.energy_wh > 0)).toBe(true); // sparse: only days with energy
      const months = await device.emeter.getMonthStats(year);
      expect(months.month_list).toEqual([{ year, month, energy_wh: expect.any(Number) }]);
      expect(months.month_list[0].energy_wh).toBeGreaterThanOrEqual(today.energy_wh);

      const info = await device.getInfo();
      expect(info.sysInfo.feature).toBe("TIM:ENE");
      expect(info.sysInfo.relay_state).toBe(1);
      expectNear(info.emeter.realtime.power, WATTS, 0.02, "getInfo power");
      expectNear(info.emeter.realtime.voltage_mv, VOLTS * 1000, 0.01, "getInfo voltage_mv");
      expect(info.emeter.realtime.total_wh).toBeGreaterThanOrEqual(second.total_wh);

      expect((await device.emeter.eraseStats()).err_code).toBe(0);
      const erased = await device.emeter.getRealtime();
      expect(erased.total_wh).toBeLessThanOrEqual(1); // what ran in the few ms since
      expect(erased.total_wh).toBeLessThan(second.total_wh);
      expectNear(erased.power_mw, WATTS * 1000, 0.02, "power after the erase"); // the load still runs
      expect((await device.emeter.getDayStats(year, month)).day_list.reduce((s: number, d: any) => s + d.energy_wh, 0)).toBeLessThanOrEqual(1);
    });

    it("HS110 with a simulated CSE7766 at 3 kW: v1 floats (W, V, A, kWh), plus the integers tplink-smarthome-api derives", async () => {
      const plug = await loaded("HS110");
      const device: any = await new Client({ defaultSendOptions: { timeout: 3000 } }).getDevice({ host: "127.0.0.1", port: plug.port });
      const r = await poll(() => device.emeter.getRealtime(), (x: any) => x.power > 0 && x.total >= 0.001, "a reading and a counted Wh");
      expect(Object.keys(await realtime(plug.port)).sort()).toEqual(["current", "err_code", "power", "total", "voltage"]);
      expectNear(r.power, WATTS, 0.02, "power");
      expectNear(r.voltage, VOLTS, 0.01, "voltage");
      expectNear(r.current, WATTS / VOLTS, 0.02, "current");
      expectNear(r.power_mw, WATTS * 1000, 0.02, "power_mw (derived)");
      expectNear(r.voltage_mv, VOLTS * 1000, 0.01, "voltage_mv (derived)");
      await sleep(1300);
      const later = await device.emeter.getRealtime();
      expect(later.total).toBeGreaterThan(r.total);
      expect(later.total).toBeLessThan(0.01); // kWh, not Wh

      const { year, month, day } = await plugDate(plug.port);
      const days = await device.emeter.getDayStats(year, month);
      const today = days.day_list.find((d: any) => d.day === day);
      expect(today).toMatchObject({ year, month, day });
      expect(today).not.toHaveProperty("energy_wh");
      expect(today.energy).toBeGreaterThanOrEqual(0.001);
      expect(today.energy).toBeLessThan(0.01);
      const months = await device.emeter.getMonthStats(year);
      expect(months.month_list.find((m: any) => m.month === month).energy).toBeGreaterThanOrEqual(today.energy);
      const info = await device.getInfo();
      expect(info.sysInfo.feature).toBe("TIM:ENE");
      expectNear(info.emeter.realtime.power, WATTS, 0.02, "getInfo power");
    });

    it("a BL0937 (pulse counts through SEL switching) reads the same load within tolerance", async () => {
      const plug = await loaded("KP115", 2000, "BL0937");
      expect(plug.lines).toContain("relay ON");
      const r = await poll(() => realtime(plug.port), (x) => x.power_mw > 0 && x.voltage_mv > 0 && x.current_ma > 0, "all three quantities", 6000);
      expectNear(r.power_mw, 2_000_000, 0.02, "power_mw");
      expectNear(r.voltage_mv, VOLTS * 1000, 0.01, "voltage_mv");
      expectNear(r.current_ma, (2000 / VOLTS) * 1000, 0.02, "current_ma");
    });

    it("an HS110 or KP115 started without --load reads the mains voltage with nothing plugged in, 0 A and 0 W, in floats on the HS110", async () => {
      const hs110 = await start({ model: "HS110" });
      const kp115 = await start({ model: "KP115" });
      await askOnce(hs110.port, { system: { set_relay_state: { state: 1 } } });
      const v1 = await poll(() => realtime(hs110.port), (x) => x.voltage > 0, "a voltage reading without --load");
      expectNear(v1.voltage, VOLTS, 0.01, "HS110 voltage (V)");
      expect([v1.current, v1.power, v1.total]).toEqual([0, 0, 0]);
      // as python-kasa reads the text: voltage and current floats, power a float (its current_consumption)
      const text = (await udpAsk(hs110.port, JSON.stringify({ emeter: { get_realtime: {} } }))).text;
      expect(pythonKasaRealtimeFailures(text), text).toEqual([]);
      expect(text).toMatch(/"current":0\.000000,"power":0\.000000,"total":0\.000000/);
      const v2 = await poll(() => realtime(kp115.port), (x) => x.voltage_mv > 0, "a voltage reading without --load");
      expectNear(v2.voltage_mv, VOLTS * 1000, 0.01, "KP115 voltage (mV)");
      expect([v2.current_ma, v2.power_mw, v2.total_wh]).toEqual([0, 0, 0]);
      // --volts alone: nothing plugged in on another mains
      const spec = parseLoadArgs({ volts: "120", model: "KP115" })!;
      const us = await start({ model: "KP115", load: { profile: repeatingProfile(spec.points, spec.volts), chip: spec.chip } });
      expectNear((await poll(() => realtime(us.port), (x) => x.voltage_mv > 0, "120 V")).voltage_mv, 120_000, 0.01, "voltage at --volts 120");
    });

    it("the load draws power only while the relay is on; the voltage is read either way", async () => {
      const spec = parseLoadArgs({ load: "1500", model: "KP115", volts: "120" })!;
      const plug = await start({ model: "KP115", load: { profile: repeatingProfile(spec.points, spec.volts) } });
      const off = await poll(() => realtime(plug.port), (x) => x.voltage_mv > 0, "a voltage reading");
      expectNear(off.voltage_mv, 120_000, 0.01, "voltage with the relay off");
      expect(off.power_mw).toBe(0);
      expect(off.current_ma).toBe(0);
      await askOnce(plug.port, { system: { set_relay_state: { state: 1 } } });
      const on = await poll(() => realtime(plug.port), (x) => x.power_mw > 0, "power once on");
      expectNear(on.power_mw, 1_500_000, 0.02, "power with the relay on");
      expectNear(on.current_ma, 12_500, 0.02, "current at 120 V");
      await askOnce(plug.port, { system: { set_relay_state: { state: 0 } } });
      // the CSE7766 driver bounds the power by the period still under way: it fades, 1/t, to 0 W
      // once the chip flags the cycle over range (16.7 s)
      const gone = await poll(() => realtime(plug.port), (x) => x.power_mw < 5000, "power under 5 W once off", 5000);
      expectNear(gone.voltage_mv, 120_000, 0.01, "voltage with the relay off again");
    });
  });

  describe("energy on the host with python-kasa's combined update", () => {
    const TEMPLATE = readFileSync(new URL("./support/python-kasa-update.json", import.meta.url), "utf8");

    /** The update python-kasa sends (PROTOCOL §2.10) for the plug's year and month. */
    function update(year: number, month: number) {
      const u = JSON.parse(TEMPLATE);
      for (const m of ["emeter", "schedule"]) {
        u[m].get_daystat = { year, month };
        u[m].get_monthstat = { year };
      }
      return u;
    }

    for (const model of ["HS110", "KP115"] as const) {
      it(`${model}: every emeter method answers err_code 0 in its unit family, and python-kasa's conversions give the load`, async () => {
        const plug = await loaded(model);
        const { year, month, day } = await plugDate(plug.port);
        const c = await RawClient.connect(plug.port); // one connection for every update, as python-kasa keeps it
        const v2 = model === "KP115";
        const realtimeKeys = v2 ? ["current_ma", "err_code", "power_mw", "total_wh", "voltage_mv"] : ["current", "err_code", "power", "total", "voltage"];
        const energyKey = v2 ? "energy_wh" : "energy";
        const first = await poll(() => c.ask(update(year, month)), (a) => emeterStatus(a.emeter.get_realtime, "total_wh")! >= 1, "a counted Wh");
        let previousTotal = 0;
        for (const answer of [first, await (sleep(1300).then(() => c.ask(update(year, month))))]) {
          expect(answer.system.get_sysinfo.feature).toBe("TIM:ENE");
          const e = answer.emeter;
          for (const method of ["get_realtime", "get_daystat", "get_monthstat"]) expect(e[method].err_code, method).toBe(0);
          expect(Object.keys(e.get_realtime).sort()).toEqual(realtimeKeys);
          if (v2) for (const k of realtimeKeys) expect(Number.isInteger(e.get_realtime[k]), k).toBe(true);
          // what `kasa energy` prints: EmeterStatus["power"] (W), ["voltage"] (V), ["current"] (A), ["total"] (kWh)
          expectNear(emeterStatus(e.get_realtime, "power"), WATTS, 0.02, "power (W)");
          expectNear(emeterStatus(e.get_realtime, "voltage"), VOLTS, 0.01, "voltage (V)");
          expectNear(emeterStatus(e.get_realtime, "current"), WATTS / VOLTS, 0.02, "current (A)");
          const total = emeterStatus(e.get_realtime, "total")!;
          expect(total).toBeGreaterThan(previousTotal);
          previousTotal = total;
          // day_list: every entry has day, month and the energy key of the family python-kasa picks from the first
          expect(e.get_daystat.day_list.length).toBeGreaterThan(0);
          for (const d of e.get_daystat.day_list) expect(Object.keys(d).sort()).toEqual(["day", energyKey, "month", "year"].sort());
          const days = convertStatData(e.get_daystat.day_list, "day");
          expect(days.get(day)).toBeGreaterThanOrEqual(0.001); // kWh, as `kasa energy` shows "Today"
          expect(days.get(day)).toBeLessThanOrEqual(total + 0.001);
          for (const m of e.get_monthstat.month_list) expect(Object.keys(m).sort()).toEqual([energyKey, "month", "year"].sort());
          const months = convertStatData(e.get_monthstat.month_list, "month");
          expect(months.get(month)).toBeGreaterThanOrEqual(days.get(day)!);
          // the rest of the update is untouched by the meter
          expect(answer.schedule.get_daystat.err_code).toBe(0);
          expect(answer["smartlife.iot.homekit"].err_code).toBe(-1);
        }
        expect(c.closed).toBe(false);
        c.destroy();
      });
    }
  });

  describe("energy across restarts", () => {
    it("the total and today's energy survive a stop and start on the same state directory, and a reboot", async () => {
      const dir = stateDir();
      const first = await loaded("KP115", WATTS, undefined, dir);
      const before = await poll(() => realtime(first.port), (r) => r.total_wh >= 1, "a Wh counted");
      const { year, month, day } = await plugDate(first.port);
      const dayBefore = (await askOnce(first.port, { emeter: { get_daystat: { year, month } } })).emeter.get_daystat.day_list.find((d: any) => d.day === day);
      first.stop();

      // started again as `npm start -- --load 3000` would: the stored model (KP115) meters
      const spec = parseLoadArgs({ load: String(WATTS) })!;
      const second = await start({ stateDir: dir, load: { profile: repeatingProfile(spec.points, spec.volts) } });
      expect(second.plug.context.personality.key).toBe("KP115");
      const after = await realtime(second.port);
      expect(after.total_wh).toBeGreaterThanOrEqual(before.total_wh);
      const dayAfter = (await askOnce(second.port, { emeter: { get_daystat: { year, month } } })).emeter.get_daystat.day_list.find((d: any) => d.day === day);
      expect(dayAfter.energy_wh).toBeGreaterThanOrEqual(dayBefore.energy_wh);
      // the power-on policy (last) put the relay back on: the load runs and counts on top
      expect(second.relay.on).toBe(true);
      const more = await poll(() => realtime(second.port), (r) => r.total_wh >= after.total_wh + 1, "more energy after the restart");

      const booted = second.waitForBoot();
      await askOnce(second.port, { system: { reboot: { delay: 0 } } });
      await booted;
      expect((await realtime(second.port)).total_wh).toBeGreaterThanOrEqual(more.total_wh);
    });

    it("a stored model without a meter refuses a load at start", async () => {
      const dir = stateDir();
      (await start({ stateDir: dir, model: "HS100" })).stop();
      const spec = parseLoadArgs({ load: "60" })!;
      await expect(start({ stateDir: dir, load: { profile: repeatingProfile(spec.points, spec.volts) } })).rejects.toThrow(
        /a load needs a model with an energy meter \(HS110 or KP115\); this plug is an HS100 \(state in /,
      );
    });
  });

  describe("--load, --volts and --meter (the command line's parser)", () => {
    it("refuses a load on a model without a meter, with the models that have one", () => {
      for (const model of ["HS100", "hs105", "HS103"]) expect(() => parseLoadArgs({ load: "60", model })).toThrow(/--load needs a model with an energy meter \(HS110 or KP115\)/);
      expect(parseLoadArgs({ load: "60", model: "HS110" })).toMatchObject({ points: [[0, 60]], volts: 230, chip: "CSE7766" });
      expect(parseLoadArgs({ load: "1500", model: "kp115(eu)", volts: "120", meter: "bl0937" })).toMatchObject({ points: [[0, 1500]], volts: 120, chip: "BL0937" });
      expect(parseLoadArgs({ model: "HS100" })).toBeUndefined();
    });

    it("refuses negative, absurd and malformed values with the reason", () => {
      expect(() => parseLoadArgs({ load: "-5" })).toThrow(/watts cannot be negative/);
      expect(() => parseLoadArgs({ load: "6000" })).toThrow(/6000 W is more than the plug measures at 230 V \(at most 4600 W/);
      expect(maxWatts(120)).toBe(2400); // 20 A at 120 V
      expect(() => parseLoadArgs({ load: "3000", volts: "120" })).toThrow(/at most 2400 W/);
      expect(() => parseLoadArgs({ load: "60", volts: "400" })).toThrow(/--volts must be 90-264/);
      expect(() => parseLoadArgs({ load: "60", volts: "lots" })).toThrow(/--volts must be 90-264/);
      expect(() => parseLoadArgs({ load: "60", meter: "ADE7953" })).toThrow(/--meter must be one of CSE7766, HLW8012, CSE7759, BL0937, HJL-01/);
      expect(() => parseLoadArgs({ volts: "120", model: "HS100" })).toThrow(/--volts and --meter need a model with an energy meter \(HS110 or KP115\); HS100 has none/);
      expect(() => parseLoadArgs({ volts: "12" })).toThrow(/--volts must be 90-264/);
      // --volts or --meter alone: nothing plugged in
      expect(parseLoadArgs({ volts: "120", meter: "bl0937" })).toMatchObject({ description: "nothing plugged in", points: [[0, 0]], volts: 120, chip: "BL0937" });
      expect(parseLoadArgs({})).toBeUndefined();
      expect(() => parseLoadArgs({ load: "/nonexistent/profile.txt" })).toThrow(/--load: no such file "\/nonexistent\/profile.txt"/);
    });

    it("reads profile files: spaces or commas, comments, JSON; refuses times that do not go up and oversized files", () => {
      expect(parseProfile("# a comment\n0 10\n\n1.5,20  # trailing\n 3 , 0\n", 230)).toEqual([[0, 10], [1.5, 20], [3, 0]]);
      expect(parseProfile("[[0, 10], [60, 2000], [120, 0]]", 230)).toEqual([[0, 10], [60, 2000], [120, 0]]);
      expect(() => parseProfile("0 10\n5 20\n5 30\n", 230, "p.txt")).toThrow(/p.txt, line 3: times must go up \(5 s comes after 5 s\)/);
      expect(() => parseProfile("0 10\n5 20\n2 30\n", 230)).toThrow(/line 3: times must go up/);
      expect(() => parseProfile("0 10\n5 -20\n", 230)).toThrow(/line 2: watts cannot be negative/);
      expect(() => parseProfile("0 10\n5 9000\n", 230)).toThrow(/line 2: 9000 W is more than/);
      expect(() => parseProfile("0 ten\n", 230)).toThrow(/line 1: expected "seconds watts"/);
      expect(() => parseProfile("0 10 20\n", 230)).toThrow(/line 1: expected "seconds watts"/);
      expect(() => parseProfile("-1 10\n", 230)).toThrow(/the time must be/);
      expect(() => parseProfile("[[0, 10], [1]]", 230)).toThrow(/entry 2: expected \[seconds, watts\]/);
      expect(() => parseProfile("[[0, 10], [1, 5", 230)).toThrow(/not valid JSON/);
      expect(() => parseProfile("# nothing\n", 230)).toThrow(/no points/);
      const lines = Array.from({ length: MAX_POINTS + 1 }, (_, i) => `${i} 5`).join("\n");
      expect(parseProfile(lines.split("\n").slice(0, MAX_POINTS).join("\n"), 230)).toHaveLength(MAX_POINTS);
      expect(() => parseProfile(lines, 230)).toThrow(new RegExp(`more than ${MAX_POINTS} points`));
      const dir = stateDir();
      const big = join(dir, "big.txt");
      writeFileSync(big, "#".repeat(2 << 20));
      expect(() => parseLoadArgs({ load: big })).toThrow(/bytes, more than/);
    });

    it("the example washing-machine profile: its steps, and it repeats from the top after its last line", () => {
      const spec = parseLoadArgs({ load: "examples/load-washing-machine.txt", model: "HS110" })!;
      const points = spec.points;
      expect(points.length).toBeGreaterThanOrEqual(4);
      const profile = repeatingProfile(points, spec.volts);
      const cycle = points[points.length - 1][0] * 1000;
      for (let i = 0; i + 1 < points.length; i++) {
        const [t, w] = points[i];
        const next = points[i + 1][0];
        for (const at of [t * 1000, (t + next) * 500, next * 1000 - 1]) {
          expect(profile(at).watts).toBe(w);
          expect(profile(at + cycle).watts).toBe(w); // the next cycle
          expect(profile(at + 5 * cycle).watts).toBe(w);
        }
      }
      expect(profile(cycle).watts).toBe(points[0][1]); // the last line only ends the cycle
      expect(profile(0).volts).toBe(230);
      expect(profile(0).amps).toBeCloseTo(points[0][1] / 230, 9);
      expect(Math.max(...points.map((p) => p[1]))).toBeGreaterThan(1500); // it heats water
    });

    it("a profile file's steps reach the client over the socket, and the cycle repeats", async () => {
      const dir = stateDir();
      const file = join(dir, "steps.txt");
      writeFileSync(file, "# 0.7 s at 2 kW, 0.7 s at 500 W, then again\n0 2000\n0.7 500\n1.4 0\n");
      const spec = parseLoadArgs({ load: file, model: "KP115" })!;
      const plug = await start({ model: "KP115", load: { profile: repeatingProfile(spec.points, spec.volts), chip: spec.chip } });
      await askOnce(plug.port, { system: { set_relay_state: { state: 1 } } });
      const seen: number[] = [];
      const c = await RawClient.connect(plug.port);
      for (const end = Date.now() + 3200; Date.now() < end; await sleep(60)) seen.push((await c.ask({ emeter: { get_realtime: {} } })).emeter.get_realtime.power_mw);
      c.destroy();
      // both steps, each more than once (a cycle is 1.4 s; 3.2 s of readings spans two of them)
      const high = seen.filter((p) => within(p, 2_000_000, 0.02));
      const low = seen.filter((p) => within(p, 500_000, 0.02));
      expect(high.length, JSON.stringify(seen)).toBeGreaterThan(6);
      expect(low.length, JSON.stringify(seen)).toBeGreaterThan(6);
      let switches = 0;
      const levels = seen.filter((p) => within(p, 2_000_000, 0.02) || within(p, 500_000, 0.02)).map((p) => p > 1_000_000);
      for (let i = 1; i < levels.length; i++) if (levels[i] !== levels[i - 1]) switches++;
      expect(switches).toBeGreaterThanOrEqual(3); // high → low → high → low: it came back round
    });
  });
});
