import { describe, expect, it } from "vitest";
import { MAX_SCHEDULE_RULES } from "../src/core/modules/schedule.js";
import { DEVICE_LIMITS } from "../src/core/limits.js";
import { RADIO_SWITCH_DELAY_MS, RELAY_SAVE_DELAY_MS, SETTINGS_SAVE_DELAY_MS } from "../src/core/timing.js";
import { FakeWifi, testPlug } from "./support/fakes.js";
import { REAL_SYSINFO } from "./support/real-sysinfo.js";
import { answerText } from "./support/wire.js";
import { utf8Encode } from "../src/core/protocol/wire/utf8.js";

const INVALID = { err_code: -3, err_msg: "invalid argument" };
const sysinfo = async (t: ReturnType<typeof testPlug>) => (await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
const typeOf = (v: unknown) => (typeof v === "object" ? "object" : typeof v);

describe("personalities", () => {
  const cases: [string, string][] = [
    ["HS100", "HS100(US)_1.0_1.2.5"],
    ["HS105", "HS105(US)_1.0_1.5.6"],
    ["HS110", "HS110(EU)_1.0_1.2.5"],
    ["HS103", "HS103(US)_2.1_1.1.4"],
    ["KP115", "KP115(EU)_1.0_1.0.16"],
  ];
  for (const [model, dump] of cases) {
    it(`${model} answers get_sysinfo with exactly the keys and value types of the real ${dump}`, async () => {
      const info = await sysinfo(testPlug({ model }));
      const real = REAL_SYSINFO[dump];
      expect(Object.keys(info).sort()).toEqual(Object.keys(real).sort());
      for (const key of Object.keys(real)) expect([key, typeOf(info[key])]).toEqual([key, real[key]]);
      expect(info.model).toBe(dump.split("_")[0]);
      expect(info.hw_ver).toBe(dump.split("_")[1]);
      expect(info.sw_ver.startsWith(dump.split("_")[2] + " Build ")).toBe(true);
      expect(info.dev_name).not.toMatch(/light|Dimmer/);
      expect(info.type ?? info.mic_type).toBe("IOT.SMARTPLUGSWITCH");
    });
  }

  it("announces the meter only on metering personalities", async () => {
    expect((await sysinfo(testPlug({ model: "HS110" }))).feature).toBe("TIM:ENE");
    expect((await sysinfo(testPlug({ model: "KP115" }))).feature).toBe("TIM:ENE");
    expect((await sysinfo(testPlug({ model: "HS100" }))).feature).toBe("TIM");
  });

  it("refuses an unknown model", () => {
    expect(() => testPlug({ model: "HS999" })).toThrow(/unknown model/);
  });
});

describe("identity", () => {
  it("derives unique ids from the MAC, the default alias from its last four digits", async () => {
    const a = await sysinfo(testPlug());
    const b = await sysinfo(testPlug({}, { wifi: new FakeWifi(new Uint8Array([0x50, 0xc7, 0xbf, 0x5b, 0x57, 0x7f])) }));
    expect(a.mac).toBe("50:C7:BF:5B:57:7E");
    expect(a.alias).toBe("TP-LINK_Smart Plug_577E");
    expect(a.deviceId).toMatch(/^8006[0-9A-F]{36}$/);
    expect(a.hwId).toMatch(/^[0-9A-F]{32}$/);
    expect(a.oemId).toMatch(/^[0-9A-F]{32}$/);
    for (const key of ["mac", "deviceId", "hwId", "oemId", "alias"]) expect(b[key]).not.toBe(a[key]);
  });

  it("keeps the same identity across restarts and factory resets", async () => {
    const t = testPlug();
    const before = await sysinfo(t);
    t.unlock();
    await t.ask({ system: { reset: {} } });
    t.timers.advance(1000);
    const after = await sysinfo(t.reboot());
    for (const key of ["mac", "deviceId", "hwId", "oemId"]) expect(after[key]).toBe(before[key]);
  });

  it("set_mac_addr takes either separator, normalises, and persists", async () => {
    const t = testPlug();
    t.unlock();
    expect(await t.ask({ system: { set_mac_addr: { mac: "50-c7-bf-01-02-03" } } })).toEqual({ system: { set_mac_addr: { err_code: 0 } } });
    expect((await sysinfo(t)).mac).toBe("50:C7:BF:01:02:03");
    t.unlock(); // one locked command per opening
    await t.ask({ system: { set_mac_addr: { mac: "01:23:45:67:89:ab" } } });
    expect((await sysinfo(t.reboot())).mac).toBe("01:23:45:67:89:AB");
    for (const mac of ["01:23:45:67:89", "0123456789ag", 12, "01:23:45:67:89:ab:cd", "01;23;45;67;89;ab"])
      expect((await t.ask({ system: { set_mac_addr: { mac } } })).system.set_mac_addr).toEqual(INVALID);
  });

  it("set_device_id and set_hw_id take exact-length hex and persist", async () => {
    const t = testPlug();
    t.unlock();
    const id = "ab".repeat(20);
    expect((await t.ask({ system: { set_device_id: { deviceId: id } } })).system).toEqual({ set_device_id: { err_code: 0 } });
    t.unlock(); // one locked command per opening
    expect((await t.ask({ system: { set_hw_id: { hwId: "1".repeat(32) } } })).system).toEqual({ set_hw_id: { err_code: 0 } });
    const info = await sysinfo(t.reboot());
    expect(info.deviceId).toBe(id.toUpperCase());
    expect(info.hwId).toBe("1".repeat(32));
    expect((await t.ask({ system: { set_device_id: { deviceId: "12" } } })).system.set_device_id).toEqual(INVALID);
    expect((await t.ask({ system: { set_hw_id: { hwId: "z".repeat(32) } } })).system.set_hw_id).toEqual(INVALID);
  });
});

describe("system", () => {
  it("switches the relay with 0/1 or booleans and refuses anything else without switching", async () => {
    const t = testPlug();
    await t.ask({ system: { set_relay_state: { state: true } } });
    expect(t.plug.context.device.relay).toBe(true);
    t.timers.advance(DEVICE_LIMITS.relayGapMs);
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    expect(t.plug.context.device.relay).toBe(false);
    for (const params of [{ state: "1" }, { state: 2 }, {}, null, { state: null }])
      expect((await t.ask({ system: { set_relay_state: params } })).system.set_relay_state).toEqual(INVALID);
    expect(t.relay).toEqual([false, true, false]);
  });

  it("counts on_time while on and reads 0 while off", async () => {
    const t = testPlug();
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    t.clock.advance(90_500);
    expect((await sysinfo(t)).on_time).toBe(90);
    await t.ask({ system: { set_relay_state: { state: 1 } } }); // already on: keeps counting
    t.clock.advance(10_000);
    expect((await sysinfo(t)).on_time).toBe(100);
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    expect((await sysinfo(t)).on_time).toBe(0);
  });

  it("restores relay, LED, alias, location and zone after a restart", async () => {
    const t = testPlug({ model: "HS105" });
    await t.ask({
      system: { set_relay_state: { state: 1 }, set_led_off: { off: 1 }, set_dev_alias: { alias: "Küche 🔌" }, set_dev_location: { latitude_i: 525200, longitude_i: 134050 } },
      time: { set_timezone: { index: 42, year: 2024, month: 6, mday: 1, hour: 12, min: 0, sec: 0 } },
    });
    t.timers.advance(RELAY_SAVE_DELAY_MS); // the relay state reaches flash after its delay
    const r = t.reboot();
    expect(r.relay).toEqual([true]);
    const info = await sysinfo(r);
    expect(info).toMatchObject({ relay_state: 1, led_off: 1, alias: "Küche 🔌", latitude_i: 525200, longitude_i: 134050, model: "HS105(US)" });
    expect((await r.ask({ time: { get_timezone: {} } })).time.get_timezone).toEqual({ index: 42, err_code: 0 });
  });

  it("keeps the stored personality unless another is chosen explicitly", async () => {
    const t = testPlug({ model: "HS110", forceModel: true });
    expect((await sysinfo(t.reboot({}))).model).toBe("HS110(EU)");
    expect((await sysinfo(t.reboot({ model: "KP115" }))).model).toBe("HS110(EU)");
    expect((await sysinfo(t.reboot({ model: "KP115", forceModel: true }))).model).toBe("KP115(EU)");
  });

  it("follows the power-on policy", () => {
    const t = testPlug();
    t.plug.context.device.setRelay(true);
    t.timers.advance(RELAY_SAVE_DELAY_MS);
    expect(t.reboot().relay).toEqual([true]);
    expect(t.reboot({ powerOn: "off" }).relay).toEqual([false]);
    t.plug.context.device.setRelay(false);
    t.timers.advance(RELAY_SAVE_DELAY_MS);
    expect(t.reboot({ powerOn: "on" }).relay).toEqual([true]);
    expect(t.reboot().relay).toEqual([false]);
  });

  it("coalesces relay writes: a toggle storm costs one write, a restart request flushes it", async () => {
    const t = testPlug();
    t.timers.advance(SETTINGS_SAVE_DELAY_MS); // the first boot's own settings (model, setup passphrase) reach flash
    const writes = () => t.store.writes;
    const before = writes();
    // 25 switches 2.1 s apart: within the flood guard's pace, closer than the write delay
    for (let i = 0; i < 25; i++) {
      if (i > 0) t.timers.advance(2100);
      await t.ask({ system: { set_relay_state: { state: i % 2 === 0 ? 1 : 0 } } });
    }
    expect(t.relay.slice(1)).toHaveLength(25); // the relay itself followed every command
    expect(writes()).toBe(before);
    // handed to the settings RELAY_SAVE_DELAY_MS after the last change, on flash SETTINGS_SAVE_DELAY_MS later
    t.timers.advance(RELAY_SAVE_DELAY_MS + SETTINGS_SAVE_DELAY_MS - 1);
    expect(writes()).toBe(before);
    t.timers.advance(1);
    expect(writes()).toBe(before + 1);
    expect(t.reboot().relay).toEqual([true]);
    // a storm that ends where it began writes nothing; a reboot request writes what is pending first
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    t.timers.advance(DEVICE_LIMITS.relayGapMs);
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    t.timers.advance(RELAY_SAVE_DELAY_MS + SETTINGS_SAVE_DELAY_MS);
    expect(writes()).toBe(before + 1);
    t.timers.advance(DEVICE_LIMITS.relayGapMs);
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    await t.ask({ system: { reboot: { delay: 0 } } });
    t.timers.advance(1000);
    expect(t.restarts).toBe(1);
    expect(writes()).toBe(before + 2);
    expect(t.reboot().relay).toEqual([false]);
  });

  it("lights the LED with the relay unless led_off", async () => {
    const t = testPlug();
    const boot = t.led.length;
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    await t.ask({ system: { set_led_off: { off: true } } });
    await t.ask({ system: { set_led_off: { off: 0 } } });
    t.timers.advance(DEVICE_LIMITS.relayGapMs);
    await t.ask({ system: { set_relay_state: { state: 0 } } });
    expect(t.led.slice(boot)).toEqual([true, false, true, false]);
    expect((await t.ask({ system: { set_led_off: { off: "yes" } } })).system.set_led_off).toEqual(INVALID);
  });

  it("bounds the alias at 60 bytes of UTF-8 (a setting) and refuses empty or non-string aliases", async () => {
    const t = testPlug();
    expect((await t.ask({ system: { set_dev_alias: { alias: "é".repeat(29) + "xx" } } })).system.set_dev_alias).toEqual({ err_code: 0 });
    for (const alias of ["é".repeat(30) + "x", "é".repeat(29) + "xxx", "", 5, null])
      expect((await t.ask({ system: { set_dev_alias: { alias } } })).system.set_dev_alias).toEqual(INVALID);
    expect((await sysinfo(t)).alias).toBe("é".repeat(29) + "xx");
    expect((await sysinfo(t.reboot())).alias).toBe("é".repeat(29) + "xx");
  });

  it("takes the location as floats (v1 shows floats) or as _i integers, in range", async () => {
    const t = testPlug({ model: "HS100" });
    await t.ask({ system: { set_dev_location: { latitude: 48.8566, longitude: 2.3522 } } });
    expect(await sysinfo(t)).toMatchObject({ latitude: 48.8566, longitude: 2.3522 });
    await t.ask({ system: { set_dev_location: { latitude: -33.8688, longitude: 151.2093, latitude_i: -338688, longitude_i: 1512093 } } });
    expect(await sysinfo(t)).toMatchObject({ latitude: -33.8688, longitude: 151.2093 });
    for (const p of [{ latitude: 91, longitude: 0 }, { latitude: 0 }, { latitude_i: 1.5, longitude_i: 0 }, { latitude: "1", longitude: "2" }])
      expect((await t.ask({ system: { set_dev_location: p } })).system.set_dev_location).toEqual(INVALID);
    expect(await sysinfo(t)).toMatchObject({ latitude: -33.8688, longitude: 151.2093 });
  });

  it("writes a v1 location with 6 decimals as v1 firmware does, so python-kasa's schema (a float or 0) takes a whole-degree place", async () => {
    const t = testPlug({ model: "HS110" });
    const text = async () => answerText(await t.plug.dispatcher.handle(utf8Encode('{"system":{"get_sysinfo":{}}}'), { afterReply: () => {} }));
    expect(await text()).toContain('"longitude":0,"latitude":0,');
    // tplink-smarthome-api's own suite sets 10, 10
    await t.ask({ system: { set_dev_location: { latitude: 10, longitude: 10 } } });
    expect(await text()).toContain('"longitude":10.000000,"latitude":10.000000,');
    await t.ask({ system: { set_dev_location: { latitude: -33.8688, longitude: 151.2093 } } });
    expect(await text()).toContain('"longitude":151.209300,"latitude":-33.868800,');
  });

  it("keeps the icon hash that set_dev_icon sends", async () => {
    const t = testPlug();
    expect((await t.ask({ system: { set_dev_icon: { icon: "aWNvbg==", hash: "abc123" } } })).system.set_dev_icon).toEqual({ err_code: 0 });
    expect((await t.ask({ system: { get_dev_icon: {} } })).system.get_dev_icon).toEqual({ icon: "", hash: "abc123", err_code: 0 });
    expect((await sysinfo(t)).icon_hash).toBe("abc123");
    expect((await t.ask({ system: { set_dev_icon: { hash: "x" } } })).system.set_dev_icon).toEqual(INVALID);
  });

  it("answers reboot first, then restarts after the delay", async () => {
    const t = testPlug();
    expect(await t.ask({ system: { reboot: { delay: 2 } } })).toEqual({ system: { reboot: { err_code: 0 } } });
    t.timers.advance(1999);
    expect(t.restarts).toBe(0);
    t.timers.advance(1);
    expect(t.restarts).toBe(1);
    expect((await t.ask({ system: { reboot: { delay: "soon" } } })).system.reboot).toEqual(INVALID);
    expect((await t.ask({ system: { reboot: { delay: -1 } } })).system.reboot).toEqual(INVALID);
  });

  it("keeps one delayed reboot or reset at most: the last one asked for replaces the one waiting", async () => {
    const t = testPlug();
    const timers = t.timers.count;
    for (let i = 0; i < 1000; i++) await t.ask({ system: { reboot: { delay: 5 } } });
    expect(t.timers.count).toBe(timers + 1);
    t.unlock(); // (its window's timer ends when the reset uses it)
    expect((await t.ask({ system: { reset: { delay: 1 } } })).system.reset).toEqual({ err_code: 0 });
    expect(t.timers.count).toBe(timers + 1);
    t.timers.advance(10_000);
    expect(t.restarts).toBe(1);
    expect(t.logs.filter((l) => l === "factory reset" || l === "rebooting")).toEqual(["factory reset"]);
    // and a reboot asked for after a reset replaces the reset
    const r = testPlug();
    r.unlock();
    await r.ask({ system: { set_dev_alias: { alias: "Kept" } } });
    await r.ask({ system: { reset: { delay: 1 } } });
    await r.ask({ system: { reboot: { delay: 2 } } });
    r.timers.advance(1000);
    expect(r.restarts).toBe(0);
    r.timers.advance(10_000);
    expect(r.restarts).toBe(1);
    expect(r.logs.filter((l) => l === "factory reset" || l === "rebooting")).toEqual(["rebooting"]);
    expect((await sysinfo(r.reboot())).alias).toBe("Kept");
  });

  it("a stopped plug does not restart later for a reboot asked for before it stopped", async () => {
    const t = testPlug();
    await t.ask({ system: { reboot: { delay: 2 } } });
    t.plug.stop();
    t.timers.advance(10_000);
    expect(t.restarts).toBe(0);
  });

  it("a reset refused by the presence lock leaves a waiting reboot as it was", async () => {
    const t = testPlug();
    await t.ask({ system: { reboot: { delay: 2 } } });
    expect((await t.ask({ system: { reset: { delay: 1 } } })).system.reset.err_code).toBe(-20);
    t.timers.advance(10_000);
    expect(t.restarts).toBe(1);
    expect(t.logs.filter((l) => l === "factory reset" || l === "rebooting")).toEqual(["rebooting"]);
  });

  it("factory reset (with or without delay) wipes settings but keeps identity and personality", async () => {
    const t = testPlug({ model: "HS110", forceModel: true });
    t.unlock();
    await t.ask({ system: { set_dev_alias: { alias: "Desk" }, set_relay_state: { state: 1 }, set_device_id: { deviceId: "C".repeat(40) } } });
    t.unlock();
    expect(await t.ask({ system: { reset: {} } })).toEqual({ system: { reset: { err_code: 0 } } });
    t.timers.advance(1000);
    expect(t.restarts).toBe(1);
    const info = await sysinfo(t.reboot({}));
    expect(info).toMatchObject({ alias: "TP-LINK_Smart Plug_577E", relay_state: 0, deviceId: "C".repeat(40), model: "HS110(EU)" });
  });

  it("factory reset forgets the Wi-Fi network", async () => {
    const t = testPlug({ model: "KP115" });
    await t.ask({ netif: { set_stainfo: { ssid: "HomeNetwork", password: "12345678", key_type: 3 } } });
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect((await sysinfo(t)).status).toBe("configured");
    t.unlock();
    await t.ask({ system: { reset: { delay: 0 } } });
    t.timers.advance(1000);
    const r = t.reboot();
    expect((await sysinfo(r)).status).toBe("new");
    expect((await r.ask({ netif: { get_stainfo: {} } })).netif.get_stainfo).toEqual({ ssid: "", key_type: 0, rssi: 0, err_code: 0 });
  });
});

describe("cnCloud", () => {
  it("answers get_info with all ten fields of an unbound plug", async () => {
    const info = (await testPlug().ask({ cnCloud: { get_info: {} } })).cnCloud.get_info;
    expect(Object.keys(info).sort()).toEqual(
      ["binded", "cld_connection", "err_code", "fwDlPage", "fwNotifyType", "illegalType", "server", "stopConnect", "tcspInfo", "tcspStatus", "username"],
    );
    expect(info).toMatchObject({ binded: 0, username: "", server: "devs.tplinkcloud.com", err_code: 0 });
  });

  it("refuses bind with -21 and never echoes the password", async () => {
    const t = testPlug();
    const answer = await t.ask({ cnCloud: { bind: { username: "me@example.com", password: "hunter22" } } });
    expect(answer.cnCloud.bind).toEqual({ err_code: -21, err_msg: "can not connect to the server" });
    expect(JSON.stringify(answer) + t.logs.join() + [...t.store.values].join()).not.toContain("hunter22");
    expect((await t.ask({ cnCloud: { bind: { username: "x" } } })).cnCloud.bind).toEqual(INVALID);
  });

  it("stores set_server_url", async () => {
    const t = testPlug();
    t.unlock();
    await t.ask({ cnCloud: { set_server_url: { server: "example.invalid" } } });
    expect((await t.reboot().ask({ cnCloud: { get_info: {} } })).cnCloud.get_info.server).toBe("example.invalid");
    expect((await t.ask({ cnCloud: { unbind: null, get_intl_fw_list: {} } })).cnCloud).toEqual({ unbind: { err_code: 0 }, get_intl_fw_list: { fw_list: [], err_code: 0 } });
  });
});

describe("time", () => {
  it("shows local time in the zone, across DST (zone 6 is US Pacific, the factory default)", async () => {
    const t = testPlug();
    t.clock.wall = Date.UTC(2024, 6, 4, 19, 30, 15); // July: PDT, UTC-7
    expect((await t.ask({ time: { get_time: {}, get_timezone: {} } })).time).toEqual({
      get_time: { year: 2024, month: 7, mday: 4, hour: 12, min: 30, sec: 15, err_code: 0 },
      get_timezone: { index: 6, err_code: 0 },
    });
    t.clock.wall = Date.UTC(2024, 0, 1, 7, 59, 59); // January: PST, UTC-8
    expect((await t.ask({ time: { get_time: {} } })).time.get_time).toMatchObject({ year: 2023, month: 12, mday: 31, hour: 23, min: 59, sec: 59 });
  });

  it("set_timezone needs the date and time with the index, as real plugs do", async () => {
    const t = testPlug();
    expect((await t.ask({ time: { set_timezone: { index: 39 } } })).time.set_timezone).toEqual(INVALID);
    expect((await t.ask({ time: { get_timezone: {} } })).time.get_timezone.index).toBe(6);
    const set = { index: 39, year: 2024, month: 8, mday: 1, hour: 9, min: 15, sec: 0 };
    expect((await t.ask({ time: { set_timezone: set } })).time.set_timezone).toEqual({ err_code: 0 });
    t.clock.advance(60_000);
    expect((await t.ask({ time: { get_time: {}, get_timezone: {} } })).time).toEqual({
      get_time: { year: 2024, month: 8, mday: 1, hour: 9, min: 16, sec: 0, err_code: 0 },
      get_timezone: { index: 39, err_code: 0 },
    });
    expect((await t.ask({ time: { set_timezone: { ...set, index: 110 } } })).time.set_timezone).toEqual(INVALID);
  });

  it("set_time sets the local clock and refuses impossible dates", async () => {
    const t = testPlug();
    expect((await t.ask({ time: { set_time: { year: 2025, month: 3, mday: 9, hour: 1, min: 59, sec: 30 } } })).time.set_time).toEqual({ err_code: 0 });
    t.clock.advance(60_000); // across the spring-forward gap in US Pacific
    expect((await t.ask({ time: { get_time: {} } })).time.get_time).toMatchObject({ month: 3, mday: 9, hour: 3, min: 0, sec: 30 });
    for (const bad of [{ year: 2025, month: 2, mday: 29, hour: 0, min: 0, sec: 0 }, { year: 2025, month: 1, mday: 1, hour: 24, min: 0, sec: 0 }, { year: 2025, month: 1, mday: 1, hour: 0, min: 0 }])
      expect((await t.ask({ time: { set_time: bad } })).time.set_time).toEqual(INVALID);
  });
});

describe("netif", () => {
  it("lists scanned networks with only the keys python-kasa accepts, hidden ones left out", async () => {
    const answer = await testPlug().ask({ netif: { get_scaninfo: { refresh: 1 } } });
    expect(answer.netif.get_scaninfo).toEqual({ ap_list: [{ ssid: "HomeNetwork", key_type: 3 }, { ssid: "Open", key_type: 0 }], err_code: 0 });
  });

  it("lists at most 32 networks, however many the radio found", async () => {
    const t = testPlug();
    t.wifi.scan = (done) => done(Array.from({ length: 50 }, (_, i) => ({ ssid: i % 5 === 0 ? "" : `Net ${i} "ü"`, keyType: 3, rssi: -40 - i })));
    const list = (await t.ask({ netif: { get_scaninfo: { refresh: 1 } } })).netif.get_scaninfo.ap_list;
    expect(list).toHaveLength(32);
    expect(list[0]).toEqual({ ssid: 'Net 1 "ü"', key_type: 3 });
    expect(list.every((n: { ssid: string }) => n.ssid !== "")).toBe(true);
  });

  it("answers with an empty list when the radio does not finish scanning in time", async () => {
    const t = testPlug();
    t.wifi.scanSilently = true;
    const pending = t.ask({ netif: { get_scaninfo: { refresh: 1 } } });
    t.timers.advance(5000);
    expect((await pending).netif.get_scaninfo).toEqual({ ap_list: [], err_code: 0 });
  });

  it("set_stainfo validates, answers, then joins; the password appears nowhere", async () => {
    const t = testPlug({ model: "HS100" });
    t.unlock(); // a joined plug: moving it to another network needs someone at the plug
    const answer = await t.ask({ netif: { set_stainfo: { ssid: "HomeNetwork", password: "correct horse", key_type: 3 } } });
    expect(answer.netif.set_stainfo).toEqual({ mac: "50:C7:BF:5B:57:7E", err_code: 0 });
    expect(t.wifi.joined).toEqual([]);
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.wifi.joined).toEqual([{ ssid: "HomeNetwork", password: "correct horse", keyType: 3 }]);
    const station = (await t.ask({ netif: { get_stainfo: {} } })).netif.get_stainfo;
    expect(station).toEqual({ ssid: "HomeNetwork", key_type: 3, rssi: -55, err_code: 0 });
    expect(t.logs.join("\n") + [...t.store.values].join()).not.toContain("correct horse");
  });

  it("refuses bad credentials with -3 and joins nothing", async () => {
    const t = testPlug({ model: "KP115" });
    t.wifi.forget(); // a plug in setup: every refusal must leave it there
    const u = t.reboot();
    const ssid = "invalid argument: ssid must be 1-32 bytes";
    const passphrase = "invalid argument: password must be 8-63 printable ASCII characters or 64 hex digits";
    const bad: [object, string][] = [
      [{ ssid: "", password: "12345678", key_type: 3 }, ssid],
      [{ ssid: "x".repeat(33), password: "12345678", key_type: 3 }, ssid],
      [{ ssid: "é".repeat(17), password: "12345678", key_type: 3 }, ssid], // 34 bytes of UTF-8
      [{ ssid: "Net", password: "short12", key_type: 3 }, passphrase],
      [{ ssid: "Net", password: "x".repeat(64), key_type: 3 }, passphrase],
      [{ ssid: "Net", password: "x".repeat(65), key_type: 2 }, passphrase],
      [{ ssid: "Net", password: "bad\u0001char", key_type: 2 }, passphrase],
      [{ ssid: "Net", password: "pässwört12", key_type: 3 }, passphrase],
      [{ ssid: "Net", key_type: 3 }, passphrase],
      [{ ssid: "Net", password: "12345", key_type: 1 }, "invalid argument: WEP is insecure and not supported, use WPA2"],
      [{ ssid: "Net", password: "12345678", key_type: 4 }, "invalid argument"],
      [{ ssid: "Net", password: "12345678", key_type: "3" }, "invalid argument"],
      [{ ssid: "Net", password: 12345678, key_type: 3 }, "invalid argument"],
      [{ ssid: "Net", password: "12345678" }, "invalid argument"],
      [{ password: "12345678", key_type: 3 }, "invalid argument"],
      [{ ssid: ["Net"], password: "12345678", key_type: 3 }, "invalid argument"],
    ];
    for (const [p, err_msg] of bad) expect((await u.ask({ netif: { set_stainfo: p } })).netif.set_stainfo).toEqual({ err_code: -3, err_msg });
    u.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(u.wifi.joined).toEqual([]);
    expect(u.plug.context.onboarding.state).toBe("setup");
    expect((await sysinfo(u)).status).toBe("new");
    // accepted: an open network (a password sent anyway is dropped), 8 and 63 characters, 64 hex digits
    const good = [
      [{ ssid: "Open", key_type: 0, password: "ignored" }, { ssid: "Open", keyType: 0, password: "" }],
      [{ ssid: "Eight", key_type: 2, password: "12345678" }, { ssid: "Eight", keyType: 2, password: "12345678" }],
      [{ ssid: "Long", key_type: 3, password: "~".repeat(63) }, { ssid: "Long", keyType: 3, password: "~".repeat(63) }],
      [{ ssid: "Hex", key_type: 3, password: "aB".repeat(32) }, { ssid: "Hex", keyType: 3, password: "aB".repeat(32) }],
    ] as const;
    for (const [p, tried] of good) {
      u.unlock(); // from the second on, the plug has a network: moving it needs someone at the plug
      expect((await u.ask({ netif: { set_stainfo: p } })).netif.set_stainfo).toEqual({ err_code: 0 });
      u.timers.advance(RADIO_SWITCH_DELAY_MS);
      expect(u.wifi.joined.at(-1)).toEqual(tried);
    }
    expect((await sysinfo(u)).status).toBe("configured");
  });
});

describe("rules", () => {
  const rule = { name: "morning", enable: 1, wday: [0, 1, 1, 1, 1, 1, 0], repeat: 1, stime_opt: 0, smin: 420, sact: 1, etime_opt: -1, emin: 0, eact: -1, year: 0, month: 0, day: 0 };

  it("schedule: add, list, edit, delete with device-made ids", async () => {
    const t = testPlug();
    const added = (await t.ask({ schedule: { add_rule: rule } })).schedule.add_rule;
    expect(added.id).toMatch(/^[0-9A-F]{32}$/);
    const list = (await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules;
    expect(list).toMatchObject({ enable: 1, version: 2, err_code: 0 });
    expect(list.rule_list).toEqual([{ id: added.id, ...rule, soffset: 0 }]);
    // tplink-smarthome-api sends booleans for wday and repeat
    const edit = { ...rule, id: added.id, wday: [true, false, false, false, false, false, true], repeat: true, smin: 600 };
    expect((await t.ask({ schedule: { edit_rule: edit } })).schedule.edit_rule).toEqual({ err_code: 0 });
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list[0]).toMatchObject({ wday: [1, 0, 0, 0, 0, 0, 1], repeat: 1, smin: 600 });
    expect((await t.ask({ schedule: { edit_rule: { ...edit, id: "0".repeat(32) } } })).schedule.edit_rule).toEqual({ err_code: -14, err_msg: "entry not exist" });
    expect((await t.ask({ schedule: { delete_rule: { id: "0".repeat(32) } } })).schedule.delete_rule).toEqual({ err_code: -14, err_msg: "entry not exist" });
    expect((await t.ask({ schedule: { delete_rule: { id: added.id } } })).schedule.delete_rule).toEqual({ err_code: 0 });
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toEqual([]);
  });

  it("schedule: invalid rules change nothing; the table is bounded; overall enable takes booleans", async () => {
    const t = testPlug();
    for (const bad of [{ ...rule, smin: 1440 }, { ...rule, wday: [1, 1] }, { ...rule, sact: 2 }, { ...rule, repeat: 0 }, { ...rule, name: "n".repeat(33) }])
      expect((await t.ask({ schedule: { add_rule: bad } })).schedule.add_rule).toEqual(INVALID);
    for (let i = 0; i < MAX_SCHEDULE_RULES; i++) expect((await t.ask({ schedule: { add_rule: rule } })).schedule.add_rule.err_code).toBe(0);
    expect((await t.ask({ schedule: { add_rule: rule } })).schedule.add_rule).toEqual({ err_code: -10, err_msg: "table is full" });
    await t.ask({ schedule: { set_overall_enable: { enable: false } } });
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.enable).toBe(0);
    expect((await t.ask({ schedule: { delete_all_rules: {} } })).schedule.delete_all_rules).toEqual({ err_code: 0 });
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toEqual([]);
  });

  it("schedule: next action none, statistics empty, integer periods only", async () => {
    const t = testPlug();
    expect((await t.ask({ schedule: { get_next_action: {}, get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 }, erase_runtime_stat: {} } })).schedule).toEqual({
      get_next_action: { type: -1, err_code: 0 },
      get_daystat: { day_list: [], err_code: 0 },
      get_monthstat: { month_list: [], err_code: 0 },
      erase_runtime_stat: { err_code: 0 },
    });
    expect((await t.ask({ schedule: { get_daystat: { year: "2016", month: "12" } } })).schedule.get_daystat).toEqual(INVALID);
  });

  it("count_down holds one rule: a second add is table is full", async () => {
    const t = testPlug();
    const timer = { enable: 1, delay: 1800, act: 1, name: "turn on" };
    const id = (await t.ask({ count_down: { add_rule: timer } })).count_down.add_rule.id;
    expect((await t.ask({ count_down: { add_rule: timer } })).count_down.add_rule).toEqual({ err_code: -10, err_msg: "table is full" });
    expect((await t.ask({ count_down: { get_rules: {} } })).count_down.get_rules.rule_list).toEqual([{ id, ...timer, remain: 1800 }]);
    await t.ask({ count_down: { delete_all_rules: {} } });
    expect((await t.ask({ count_down: { add_rule: { ...timer, delay: 0 } } })).count_down.add_rule).toEqual(INVALID);
  });

  it("anti_theft needs a frequency and has no get_next_action", async () => {
    const t = testPlug();
    const away = { enable: 1, wday: [1, 0, 0, 0, 0, 0, 0], repeat: 1, stime_opt: 0, smin: 457, etime_opt: 0, emin: 504, frequency: 5 };
    expect((await t.ask({ anti_theft: { add_rule: { ...away, frequency: undefined } } })).anti_theft.add_rule).toEqual(INVALID);
    expect((await t.ask({ anti_theft: { add_rule: away } })).anti_theft.add_rule.id).toMatch(/^[0-9A-F]{32}$/);
    const answer = (await t.ask({ anti_theft: { get_rules: {}, get_next_action: {} } })).anti_theft;
    expect(answer.get_rules.rule_list[0]).toMatchObject({ ...away, name: "", year: 0, month: 0, day: 0 });
    expect(answer.get_next_action).toEqual({ err_code: -2, err_msg: "member not support" });
  });
});

describe("emeter", () => {
  it("HS110 answers in v1 floats, KP115 in v2 integers", async () => {
    expect((await testPlug({ model: "HS110" }).ask({ emeter: { get_realtime: {} } })).emeter.get_realtime).toEqual({ voltage: 0, current: 0, power: 0, total: 0, err_code: 0 });
    expect((await testPlug({ model: "KP115" }).ask({ emeter: { get_realtime: {} } })).emeter.get_realtime).toEqual({ voltage_mv: 0, current_ma: 0, power_mw: 0, total_wh: 0, err_code: 0 });
  });

  it("plugs without a meter refuse it the way their firmware generation does", async () => {
    const MODULE = { err_code: -1, err_msg: "module not support" };
    expect((await testPlug({ model: "HS100" }).ask({ emeter: { get_realtime: {} } })).emeter).toEqual(MODULE);
    expect((await testPlug({ model: "HS105" }).ask({ emeter: { get_realtime: {}, get_daystat: { year: 2024, month: 1 } } })).emeter).toEqual({ get_realtime: MODULE, get_daystat: MODULE });
  });

  it("keeps gains and refuses string periods", async () => {
    const t = testPlug({ model: "HS110" });
    expect((await t.ask({ emeter: { get_vgain_igain: {} } })).emeter.get_vgain_igain).toEqual({ vgain: 13462, igain: 16835, err_code: 0 });
    t.unlock();
    await t.ask({ emeter: { set_vgain_igain: { vgain: 13000, igain: 16000 } } });
    expect((await t.reboot().ask({ emeter: { get_vgain_igain: {} } })).emeter.get_vgain_igain).toEqual({ vgain: 13000, igain: 16000, err_code: 0 });
    expect((await t.ask({ emeter: { get_daystat: { month: "12", year: "2016" } } })).emeter.get_daystat).toEqual(INVALID);
  });
});
