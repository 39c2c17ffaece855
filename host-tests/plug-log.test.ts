// What the plug's log tells its owner about clients (on the serial console of a device, in the
// terminal of the host plug): with `verbose`, each request's client, module and method, never its
// parameters; always, which request the presence lock refused and from whom, and the lock's opening,
// use and closing. All of it through the plug's log limiter.

import { describe, expect, it } from "vitest";
import { LAN_CLIENT, testPlug } from "./support/fakes.js";
import { encodeDatagram, encodeFrame } from "./support/wire.js";
import { PRESENCE_WINDOW_MS } from "../src/core/timing.js";
import { LOG_LINES_PER_MINUTE, VERBOSE_LOG_LINES_PER_MINUTE } from "../src/core/limits.js";

const DEVICE_ID = "80064C4C1B8B2A5A4A63E0B2A1C8DA2D1D5B6F3A";
const SECRET = "hunter2 is my password";

describe("verbose: each request's client, module and method", () => {
  it("names the client and every module.method asked, never a parameter", async () => {
    const t = testPlug({ verbose: true });
    const before = t.logs.length;
    await t.ask({ system: { get_sysinfo: {}, set_dev_alias: { alias: SECRET } }, netif: { get_stainfo: {} }, "not a module": { x: {} }, system2: null });
    await t.ask({ cnCloud: { bind: { username: "me@example.com", password: SECRET } } });
    const lines = t.logs.slice(before);
    expect(lines).toEqual(expect.arrayContaining([
      `request from ${LAN_CLIENT}: system.get_sysinfo`,
      `request from ${LAN_CLIENT}: system.set_dev_alias`,
      `request from ${LAN_CLIENT}: netif.get_stainfo`,
      `request from ${LAN_CLIENT}: not a module`,
      `request from ${LAN_CLIENT}: system2`,
      `request from ${LAN_CLIENT}: cnCloud.bind`,
    ]));
    expect(lines.filter((l) => l.includes("hunter2") || l.includes("me@example.com"))).toEqual([]);
  });

  it("names the client of a datagram and of a TCP connection", () => {
    const t = testPlug({ verbose: true });
    t.udp.receive(encodeDatagram('{"system":{"get_sysinfo":{}}}'), "192.168.1.33");
    expect(t.logs).toContain("request from 192.168.1.33: system.get_sysinfo");
    const c = t.kasa.connect("192.168.1.44");
    c.handler.data(encodeFrame('{"time":{"get_time":{}}}'));
    expect(t.logs).toContain("request from 192.168.1.44: time.get_time");
  });

  it("is off by default", async () => {
    const t = testPlug();
    await t.ask({ system: { get_sysinfo: {} } });
    expect(t.logs.filter((l) => l.startsWith("request from"))).toEqual([]);
  });

  it(`stays bounded: at most ${VERBOSE_LOG_LINES_PER_MINUTE} lines a minute, then a count`, async () => {
    const t = testPlug({ verbose: true });
    const before = t.logs.length;
    for (let i = 0; i < VERBOSE_LOG_LINES_PER_MINUTE + 50; i++) await t.ask({ system: { get_sysinfo: {} } });
    expect(t.logs.length - before).toBeLessThanOrEqual(VERBOSE_LOG_LINES_PER_MINUTE);
    t.clock.advance(60_000);
    await t.ask({ system: { get_sysinfo: {} } });
    const dropped = t.logs.map((l) => /^\((\d+) more log lines not shown: over (\d+) a minute\)$/.exec(l)).find((m) => m !== null);
    expect(Number(dropped?.[1])).toBeGreaterThanOrEqual(50);
    expect(Number(dropped?.[2])).toBe(VERBOSE_LOG_LINES_PER_MINUTE);
    // quiet plugs keep the device's bound
    expect(VERBOSE_LOG_LINES_PER_MINUTE).toBeGreaterThan(LOG_LINES_PER_MINUTE);
  });
});

describe("the presence lock in the log", () => {
  const setId = { system: { set_device_id: { deviceId: DEVICE_ID } } };

  it("a refusal says which request and which client", async () => {
    const t = testPlug();
    expect((await t.ask(setId)).system.set_device_id.err_code).toBe(-20);
    expect(t.logs).toContain(`refused system.set_device_id from ${LAN_CLIENT}: locked (hold the button 2-5 s first)`);
    t.udp.receive(encodeDatagram('{"system":{"reset":{"delay":1}}}'), "192.168.1.66");
    expect(t.logs).toContain("refused system.reset from 192.168.1.66: locked (hold the button 2-5 s first)");
  });

  it("logs the opening, the command that used it and from where, and a refusal after it", async () => {
    const t = testPlug();
    t.unlock();
    expect(t.logs).toContain("presence lock: open for one command, 2 minutes at most");
    expect((await t.ask(setId)).system.set_device_id.err_code).toBe(0);
    expect(t.logs).toContain(`presence lock: used by system.set_device_id from ${LAN_CLIENT}; locked again`);
    expect((await t.ask(setId)).system.set_device_id.err_code).toBe(-20);
    expect(t.logs).toContain(`refused system.set_device_id from ${LAN_CLIENT}: the button's opening was used by an earlier command (if not yours, another client was waiting for it)`);
  });

  it("logs its closing when the opening goes unused", () => {
    const t = testPlug();
    t.unlock();
    t.timers.advance(PRESENCE_WINDOW_MS - 3000);
    expect(t.logs.filter((l) => l.startsWith("presence lock: closed"))).toEqual([]);
    t.timers.advance(3000);
    expect(t.logs.filter((l) => l.startsWith("presence lock: closed"))).toEqual(["presence lock: closed again, unused for 2 minutes"]);
  });
});
