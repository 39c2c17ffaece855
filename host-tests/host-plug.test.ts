// The host plug on real loopback sockets, driven by raw frames and by the real tplink-smarthome-api.

import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { Client } from "tplink-smarthome-api";
import { afterEach, describe, expect, it, vi } from "vitest";
import { VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import { CLOSE_LINGER_MS, NodeUdp } from "../src/host/net.js";
import { RawClient, udpAsk } from "./support/raw-client.js";
import { HostPlugs } from "./support/host-plugs.js";
import { until } from "./support/until.js";
import { DEVICE_LIMITS, HOST_LIMITS } from "../src/core/limits.js";
import type { WifiNetwork } from "../src/ports/ports.js";
import { encodeDatagram, encodeFrame } from "./support/wire.js";
import { FrameDecoder } from "../src/core/protocol/wire/frame.js";
import { utf8Decode } from "../src/core/protocol/wire/utf8.js";

const RELAY_ON = Buffer.from("0000002AD0F281F88BFF9AF7D5EF94B6C5A0D48BF99CF091E8B7C4B0D1A5C0E2D8A381F286E793F6D4EEDFA2DFA2", "hex");
const RELAY_OFF = Buffer.from("0000002AD0F281F88BFF9AF7D5EF94B6C5A0D48BF99CF091E8B7C4B0D1A5C0E2D8A381F286E793F6D4EEDEA3DEA3", "hex");
const ANSWER = "0000002dd0f281f88bff9af7d5ef94b6c5a0d48bf99cf091e8b7c4b0d1a5c0e2d8a381e496e4bbd8b7d3b694ae9ee39ee3";

const host = new HostPlugs("plug-test-");
const plugs = host.plugs;
const stateDir = (): string => host.stateDir();

async function start(options: Partial<VirtualPlugOptions> = {}): Promise<VirtualPlug & { lines: string[] }> {
  const lines: string[] = [];
  const plug = await VirtualPlug.start({ port: 0, httpPort: 0, stateDir: options.stateDir ?? stateDir(), log: (l) => lines.push(l), rebootMs: 50, ...options });
  plugs.push(plug);
  return Object.assign(plug, { lines });
}

afterEach(() => {
  host.stopAll();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// python-kasa's combined update for a plug (PROTOCOL §2.10), shared with scripts/chip-memory.mjs
const PYTHON_KASA_UPDATE = JSON.parse(readFileSync(new URL("./support/python-kasa-update.json", import.meta.url), "utf8"));

describe("host plug over TCP", () => {
  it("answers the captured relay frames byte for byte and switches the relay", async () => {
    const plug = await start();
    const c = await RawClient.connect(plug.port);
    c.write(RELAY_ON);
    await c.frame();
    expect(c.bytes().toString("hex")).toBe(ANSWER);
    expect(plug.relay.on).toBe(true);
    c.write(RELAY_OFF);
    await c.frame();
    // the relay's flood guard keeps its contacts RELAY_GAP apart: off follows within that
    await until(() => !plug.relay.on, "the relay off", DEVICE_LIMITS.relayGapMs + 400);
    expect(plug.lines).toContain("relay ON");
    c.destroy();
  });

  it("reassembles a frame split across segments and answers frames sent together, in order", async () => {
    const plug = await start();
    const c = await RawClient.connect(plug.port);
    c.write(RELAY_ON.subarray(0, 3));
    await sleep(30);
    c.write(RELAY_ON.subarray(3, 20));
    await sleep(30);
    c.write(RELAY_ON.subarray(20));
    expect(JSON.parse(await c.frame())).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    c.write(Buffer.concat([RELAY_OFF, RELAY_ON, RELAY_OFF]));
    for (let i = 0; i < 3; i++) expect(JSON.parse(await c.frame())).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    await until(() => !plug.relay.on, "the relay off", DEVICE_LIMITS.relayGapMs + 400); // the last one asked for wins
    c.destroy();
  });

  it("serves any number of sequential requests on one connection (python-kasa style)", async () => {
    const plug = await start({ model: "HS110" });
    const c = await RawClient.connect(plug.port);
    const before = plug.lines.length;
    for (let i = 0; i < 200; i++) {
      const answer = await c.ask({ system: { set_relay_state: { state: i % 2 }, get_sysinfo: {} } });
      expect(answer.system.get_sysinfo.relay_state).toBe(i % 2); // the state asked for
    }
    // a toggle storm: the relay itself moved at most relayChanges times, and the log says why
    const lines = plug.lines.slice(before);
    expect(lines.filter((l) => l === "relay ON" || l === "relay OFF").length).toBeLessThanOrEqual(DEVICE_LIMITS.relayChanges);
    expect(lines.some((l) => l.startsWith("relay flood guard"))).toBe(true);
    c.destroy();
  });

  it("answers and then closes when the client sends its request and FIN together", async () => {
    const plug = await start();
    const c = await RawClient.connect(plug.port);
    c.write(JSON.stringify({ system: { get_sysinfo: {} } }));
    c.end();
    expect(JSON.parse(await c.frame()).system.get_sysinfo.err_code).toBe(0);
    expect(await c.waitClosed(1000)).toBe(true);
  });

  it("closes an idle connection as soon as the client closes its side", async () => {
    const plug = await start();
    const c = await RawClient.connect(plug.port);
    await c.ask({ system: { get_sysinfo: {} } });
    c.end();
    expect(await c.waitClosed(1000)).toBe(true);
  });

  it("closes a connection that declares an oversized frame; other clients and the state are untouched", async () => {
    const plug = await start();
    const other = await RawClient.connect(plug.port);
    const bad = await RawClient.connect(plug.port);
    bad.write(Buffer.from([0x00, 0x00, 0x40, 0x01])); // 16385 bytes declared
    expect(await bad.waitClosed()).toBe(true);
    const huge = await RawClient.connect(plug.port);
    huge.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    expect(await huge.waitClosed()).toBe(true);
    expect((await other.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.relay_state).toBe(0);
    expect(plug.relay.on).toBe(false);
    other.destroy();
  });

  it(`closes a client that asks and never reads before the plug holds ${HOST_LIMITS.maxUnsentBytes / 1024} KiB of its answers, and serves the others`, async () => {
    const plug = await start();
    // what the plug writes to the greedy client and leaves unsent (Node's own queue, past the kernel's buffers)
    let greedyPort = -1;
    let peak = 0;
    let answers = 0;
    const write = Socket.prototype.write;
    const spy = vi.spyOn(Socket.prototype, "write").mockImplementation(function (this: Socket, ...args: unknown[]) {
      const result = (write as (...a: unknown[]) => boolean).apply(this, args);
      if (this.localPort === plug.port && this.remotePort === greedyPort) {
        answers++; // (each answer is one write: the host's buffer holds a whole sysinfo answer)
        peak = Math.max(peak, this.writableLength);
      }
      return result;
    });
    try {
      const greedy = await RawClient.connect(plug.port);
      greedyPort = greedy.socket.localPort!;
      greedy.socket.pause(); // never reads
      const two = Buffer.concat([encodeFrame('{"system":{"get_sysinfo":{}}}'), encodeFrame('{"system":{"get_sysinfo":{}}}')]);
      const closing = () => plug.lines.some((l) => l.includes("closing connection"));
      // two requests at a time, the next two once these are answered (never more than MAX_QUEUED_FRAMES
      // in one read), until the loopback's kernel buffers (some MB) are full and the plug's bound is reached
      for (let asked = 0; asked < 40_000 && !closing(); ) {
        greedy.write(two);
        asked += 2;
        for (let turns = 0; answers < asked && !closing(); turns++) {
          // (a kernel that buffers everything until its TCP memory runs out would stall here, not the plug)
          if (turns > 100_000) throw new Error(`no answer to request ${asked} and no close: the kernel stopped passing requests on`);
          await new Promise((r) => setImmediate(r));
        }
      }
      expect(plug.lines.filter((l) => l.includes("closing connection"))).toEqual([expect.stringMatching(/^client not reading: \d+ bytes unsent, closing connection$/)]);
      expect(peak).toBeGreaterThan(HOST_LIMITS.maxUnsentBytes / 2);
      expect(peak).toBeLessThanOrEqual(HOST_LIMITS.maxUnsentBytes);
      const other = await RawClient.connect(plug.port);
      expect((await other.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
      other.destroy();
      greedy.socket.resume(); // what the kernel held arrives, then the end
      expect(await greedy.waitClosed(10_000)).toBe(true);
      // every answer that left arrives whole (that the adapter copies what Node queues: net-host.test.ts)
      const received: string[] = [];
      expect(new FrameDecoder(1 << 20).feed(greedy.bytes(), (p) => received.push(utf8Decode(p)))).toBe(true);
      expect(received.length).toBeGreaterThan(1000);
      expect(received.every((text) => JSON.parse(text).system.get_sysinfo.err_code === 0)).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it("answers text that is not a JSON object with {} and keeps the connection", async () => {
    const plug = await start();
    const c = await RawClient.connect(plug.port);
    c.write("{emeter:{get_realtime:{}}}");
    expect(await c.frame()).toBe("{}");
    c.write("\u00ff\u0000 not json");
    expect(await c.frame()).toBe("{}");
    expect((await c.ask({ system: { get_sysinfo: null } })).system.get_sysinfo.err_code).toBe(0);
    c.destroy();
  });

  it("answers python-kasa's combined update in one frame, every method with err_code", async () => {
    const plug = await start({ model: "HS110" });
    const c = await RawClient.connect(plug.port);
    const answer = await c.ask(PYTHON_KASA_UPDATE);
    expect(Object.keys(answer)).toEqual(Object.keys(PYTHON_KASA_UPDATE));
    expect(answer["smartlife.iot.homekit"]).toEqual({ err_code: -1, err_msg: "module not support" });
    expect(answer.schedule.get_realtime).toEqual({ err_code: -2, err_msg: "member not support" });
    expect(answer.anti_theft.get_next_action).toEqual({ err_code: -2, err_msg: "member not support" });
    for (const mod of ["emeter", "time", "cnCloud", "system"]) for (const r of Object.values(answer[mod]) as { err_code: number }[]) expect(r.err_code).toBe(0);
    expect(answer.schedule.get_rules.err_code).toBe(0);
    expect(answer.time.get_time).toHaveProperty("mday");
    expect(typeof answer.time.get_timezone.index).toBe("number");
    c.destroy();
  });
});

describe("host plug connection bounds", () => {
  const SYSINFO = { system: { get_sysinfo: {} } };
  const closedOnes = (clients: RawClient[]) => clients.flatMap((c, i) => (c.closed ? [i] : []));

  it(`serves a new client while ${HOST_LIMITS.maxConnections} idle sockets hold every place: the oldest one makes room`, async () => {
    const plug = await start();
    const idle: RawClient[] = [];
    for (let i = 0; i < HOST_LIMITS.maxConnections; i++) idle.push(await RawClient.connect(plug.port));
    const next = await RawClient.connect(plug.port);
    expect((await next.ask(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
    expect(await idle[0].waitClosed()).toBe(true);
    expect(closedOnes(idle)).toEqual([0]);
    const evictions = plug.lines.filter((l) => l.startsWith("connection idle"));
    expect(evictions).toHaveLength(1);
    expect(evictions[0]).toMatch(new RegExp(`^connection idle \\d+ s \\(0 requests\\) closed for a new client: ${HOST_LIMITS.maxConnections} open$`));
    // one that has asked is kept over idle ones that never did
    expect((await idle[1].ask(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
    const another = await RawClient.connect(plug.port);
    expect((await another.ask(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
    expect(await idle[2].waitClosed()).toBe(true);
    expect(closedOnes(idle)).toEqual([0, 2]);
    for (const c of [...idle, next, another]) c.destroy();
  });

  it(`refuses a new client only while all ${DEVICE_LIMITS.maxConnections} connections (an ESP8266's) are busy answering`, async () => {
    const plug = await start({ limits: { ...HOST_LIMITS, maxConnections: DEVICE_LIMITS.maxConnections } });
    const scans: ((networks: WifiNetwork[]) => void)[] = [];
    plug.wifi.scan = (done) => void scans.push(done); // the radio answers when the test says
    const busy: RawClient[] = [];
    for (let i = 0; i < DEVICE_LIMITS.maxConnections; i++) {
      const c = await RawClient.connect(plug.port);
      c.write(JSON.stringify({ netif: { get_scaninfo: { refresh: 1 } } }));
      busy.push(c);
    }
    await until(() => scans.length === DEVICE_LIMITS.maxConnections, "every connection waiting for its scan");
    const extra = await RawClient.connect(plug.port);
    expect(await extra.waitClosed()).toBe(true);
    expect(extra.bytes().length).toBe(0);
    expect(plug.lines).toContain(`connection refused: all ${DEVICE_LIMITS.maxConnections} open are busy answering`);
    for (const done of scans) done([{ ssid: "Later", keyType: 3, rssi: -50 }]);
    for (const c of busy) expect(JSON.parse(await c.frame()).netif.get_scaninfo).toEqual({ ap_list: [{ ssid: "Later", key_type: 3 }], err_code: 0 });
    expect(closedOnes(busy)).toEqual([]);
    const next = await RawClient.connect(plug.port); // answered: the places can be taken again
    expect((await next.ask(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
    expect(await busy[0].waitClosed()).toBe(true);
    for (const c of [...busy, next]) c.destroy();
  });
});

describe("host plug sockets", () => {
  it("lets go of a client that never reads once the plug closes its connection, unsent answers and all", async () => {
    // (the unsent-output bound is raised out of the way: this is about letting go of what is held)
    const plug = await start({ limits: { ...HOST_LIMITS, maxConnections: 1, maxUnsentBytes: 1 << 30 } });
    const hog = await RawClient.connect(plug.port);
    hog.socket.pause(); // reads nothing: the answers pile up in the kernel, then in the plug
    // Each frame names 500 modules the plug does not have; the answer names each again with its
    // error, 25 KB for 15 KB (padded so that no read holds more than a few frames).
    const names = Array.from({ length: 500 }, (_, i) => `"m${i}":0`).join(",");
    const frame = encodeFrame(`{${names}}`.padEnd(15_000, " "));
    for (let i = 0; i < 1000 && plug.kasaSockets().unsent === 0; i++) {
      hog.write(frame);
      await sleep(i % 20 === 19 ? 20 : 0);
    }
    expect(plug.kasaSockets().open).toBe(1);
    expect(plug.kasaSockets().unsent).toBeGreaterThan(0); // (about 160 frames, 4 MB of answers, on Linux loopback)
    const next = await RawClient.connect(plug.port); // takes the hog's place: the plug closes the hog
    expect((await next.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
    await until(() => plug.kasaSockets().open === 1, "the hog's socket let go", CLOSE_LINGER_MS + 2000);
    expect(plug.kasaSockets().unsent).toBe(0);
    next.end();
    await until(() => plug.kasaSockets().open === 0, "every socket let go", 2000);
    hog.destroy();
  });
});

describe("host plug over UDP", () => {
  it("answers discovery from its own port, without a header", async () => {
    const plug = await start({ model: "KP115" });
    const { text, fromPort, bytes } = await udpAsk(plug.port, '{"system":{"get_sysinfo":{}}}');
    expect(fromPort).toBe(plug.port);
    expect(bytes[0]).toBe(0xd0); // '{' encrypted: no length header in front
    const info = JSON.parse(text).system.get_sysinfo;
    expect(info).toMatchObject({ model: "KP115(EU)", mic_type: "IOT.SMARTPLUGSWITCH", err_code: 0 });
  });

  it("answers tplink-smarthome-api using UDP as its transport every time: 20 requests at once, then 30 one after another", async () => {
    const plug = await start({ model: "HS110" });
    const client = new Client({ defaultSendOptions: { transport: "udp", timeout: 5000 } });
    const device = await client.getDevice({ host: "127.0.0.1", port: plug.port });
    const burst = await Promise.all(Array.from({ length: 20 }, () => device.sendCommand('{"system":{"get_sysinfo":{}}}')));
    expect(burst.map((a: any) => a.err_code)).toEqual(Array(20).fill(0));
    for (let i = 0; i < 30; i++) expect(((await (device as any).getInfo()) as any).sysInfo.err_code).toBe(0);
    expect(plug.lines.filter((l) => l.includes("udp:"))).toEqual([]);
  });

  it("accepts any command over UDP", async () => {
    const plug = await start();
    const { text } = await udpAsk(plug.port, '{"system":{"set_relay_state":{"state":1}}}');
    expect(JSON.parse(text)).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    expect(plug.relay.on).toBe(true);
  });
});

describe("host plug with tplink-smarthome-api", () => {
  it("getSysInfo, setPowerState and getInfo work on a connection per request", async () => {
    const plug = await start({ model: "HS110" });
    const client = new Client({ defaultSendOptions: { timeout: 3000 } });
    const device = await client.getDevice({ host: "127.0.0.1", port: plug.port });
    expect(device.deviceType).toBe("plug");
    const info = await device.getSysInfo();
    expect(info.model).toBe("HS110(EU)");
    expect(await (device as any).setPowerState(true)).toBe(true);
    expect(plug.relay.on).toBe(true);
    expect(await (device as any).getPowerState()).toBe(true);
    const all = await (device as any).getInfo();
    expect(all.sysInfo.relay_state).toBe(1);
    expect(all.cloud.info.server).toBe("devs.tplinkcloud.com");
    expect(all.emeter.realtime).toMatchObject({ power: 0, current: 0 }); // nothing plugged in (the voltage: emeter-host.test.ts)
    expect(all.schedule.nextAction.type).toBe(-1);
    await (device as any).setPowerState(false);
    await until(() => !plug.relay.on, "the relay off", DEVICE_LIMITS.relayGapMs + 400);
  });

  it("finds the plug by UDP discovery on loopback", async () => {
    const plug = await start({ model: "HS105" });
    const deviceId = plug.plug.context.device.identity.deviceId;
    const client = new Client();
    const found = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("not discovered")), 5000);
      client.on("plug-new", (d: any) => {
        if (d.id !== deviceId) return;
        clearTimeout(timer);
        resolve(d);
      });
      client.startDiscovery({ address: "127.0.0.1", broadcast: "127.255.255.255", devices: [{ host: "127.0.0.1", port: plug.port }], devicesUseDiscoveryPort: true, discoveryInterval: 500 });
    });
    client.stopDiscovery();
    expect(found.model).toBe("HS105(US)");
    expect(await found.getPowerState()).toBe(false);
  });
});

describe("rules on the host plug with tplink-smarthome-api", () => {
  /** The machine's clock shifted so that the plug's wall clock reads hh:mm:57 now: its next minute comes in 3 s. */
  function clockBeforeMinute() {
    const offset = 57_000 - (Date.now() % 60_000);
    return { now: () => Date.now() + offset, monotonic: () => performance.now(), synced: () => true };
  }
  async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return;
    throw new Error("timed out");
  }

  it("a schedule rule switches the plug on its minute; the timer switches it after its delay; away rules are kept", async () => {
    const plug = await start({ model: "HS105", clock: clockBeforeMinute() });
    const device: any = await new Client({ defaultSendOptions: { timeout: 3000 } }).getDevice({ host: "127.0.0.1", port: plug.port });
    const t = await device.time.getTime();
    const next = (t.hour * 60 + t.min + 1) % 1440;
    const { id } = await device.schedule.addRule({ powerState: true, start: next, daysOfWeek: [0, 1, 2, 3, 4, 5, 6], name: "on" });
    expect(id).toMatch(/^[0-9A-F]{32}$/);
    expect((await device.schedule.getRules()).rule_list).toMatchObject([{ id, smin: next, sact: 1, repeat: 1, wday: [1, 1, 1, 1, 1, 1, 1], name: "on" }]);
    expect(await device.schedule.getNextAction()).toMatchObject({ type: 1, id, schd_time: next * 60, action: 1 });
    expect((await device.getSysInfo()).active_mode).toBe("schedule");
    await until(async () => plug.relay.on, 6000);
    expect(plug.lines.some((l) => l.includes(`schedule: rule "on" switches the relay on`))).toBe(true);

    await device.timer.addRule({ delay: 2, powerState: false, name: "off soon" });
    const timers = (await device.timer.getRules()).rule_list;
    expect(timers).toMatchObject([{ delay: 2, act: 0, enable: 1, name: "off soon" }]);
    expect(timers[0].remain).toBeLessThanOrEqual(2);
    expect((await device.getSysInfo()).active_mode).toBe("count_down");
    await until(async () => !plug.relay.on, 4000);
    expect((await device.timer.getRules()).rule_list[0].enable).toBe(0);
    // tplink-smarthome-api deletes the old timer before adding one: a second add works
    expect((await device.timer.addRule({ delay: 600, powerState: true })).id).toMatch(/^[0-9A-F]{32}$/);

    const away = await device.away.addRule({ start: 18 * 60, end: 22 * 60, daysOfWeek: [1, 2, 3, 4, 5], frequency: 5 });
    expect((await device.away.getRules()).rule_list).toMatchObject([{ id: away.id, smin: 1080, emin: 1320, frequency: 5, wday: [0, 1, 1, 1, 1, 1, 0] }]);
    expect((await device.schedule.getDayStats(t.year, t.month)).err_code).toBe(0);
    await device.schedule.deleteAllRules();
    expect((await device.schedule.getRules()).rule_list).toEqual([]);
  });

  it("without a time source rule changes fail with -11, while getInfo still works", async () => {
    const plug = await start({ model: "HS105", noTime: true });
    const device: any = await new Client({ defaultSendOptions: { timeout: 3000 } }).getDevice({ host: "127.0.0.1", port: plug.port });
    await expect(device.schedule.addRule({ powerState: true, start: 60, daysOfWeek: [1] })).rejects.toMatchObject({ response: expect.stringContaining(`"err_code":-11,"err_msg":"time not sync"`) });
    await expect(device.timer.addRule({ delay: 60, powerState: true })).rejects.toMatchObject({ response: expect.stringContaining(`"err_code":-11,"err_msg":"time not sync"`) });
    const info = await device.getInfo();
    expect(info.schedule.nextAction).toMatchObject({ type: -1 });
    expect(info.sysInfo.next_action).toEqual({ type: -1 });
    // the Kasa app's onboarding gives the zone and the time: rules work from then on
    await device.sendCommand({ time: { set_timezone: { index: 18, year: 2026, month: 11, mday: 21, hour: 9, min: 0, sec: 0 } } });
    expect((await device.schedule.addRule({ powerState: true, start: 60, daysOfWeek: [1] })).id).toMatch(/^[0-9A-F]{32}$/);
  });
});

describe("host plug lifecycle", () => {
  it("comes back after a restart with the same identity and state", async () => {
    const dir = stateDir();
    const first = await start({ stateDir: dir, model: "HS110" });
    const c = await RawClient.connect(first.port);
    await c.ask({ system: { set_relay_state: { state: 1 }, set_dev_alias: { alias: "Lamp" }, set_led_off: { off: 1 } } });
    const before = (await c.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    c.destroy();
    first.stop();
    const second = await start({ stateDir: dir });
    const after = (await (await RawClient.connect(second.port)).ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    for (const key of ["deviceId", "hwId", "oemId", "mac", "alias", "relay_state", "led_off", "model"]) expect(after[key]).toBe(before[key]);
    expect(second.relay.on).toBe(true);
  });

  it("reboots on request: answers first, drops off, and serves again", async () => {
    const plug = await start();
    const c = await RawClient.connect(plug.port);
    const booted = plug.waitForBoot();
    expect(await c.ask({ system: { reboot: { delay: 0 } } })).toEqual({ system: { reboot: { err_code: 0 } } });
    expect(await c.waitClosed()).toBe(true);
    await booted;
    expect(plug.restarts).toBe(1);
    expect((await (await RawClient.connect(plug.port)).ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
  });

  it("runs without discovery when its UDP port is taken, serving TCP (a taken TCP port still stops the start)", async () => {
    const blocker = createSocket("udp4");
    await new Promise<void>((resolve) => blocker.bind(0, "127.0.0.1", resolve));
    const port = blocker.address().port;
    try {
      const plug = await start({ port, dnsPort: port });
      expect(plug.port).toBe(port);
      expect(plug.lines).toContain(`udp ${port}: bind EADDRINUSE 127.0.0.1:${port}; discovery off`);
      expect(plug.lines).toContain(`udp ${port}: bind EADDRINUSE 127.0.0.1:${port}; captive DNS off`);
      expect((await (await RawClient.connect(port)).ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
      await expect(start({ port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  it("runs several plugs side by side, each its own device", async () => {
    const a = await start();
    const b = await start({ model: "KP115" });
    const ia = (await udpAsk(a.port, '{"system":{"get_sysinfo":{}}}')).text;
    const ib = (await udpAsk(b.port, '{"system":{"get_sysinfo":{}}}')).text;
    expect(JSON.parse(ia).system.get_sysinfo.deviceId).not.toBe(JSON.parse(ib).system.get_sysinfo.deviceId);
    expect(JSON.parse(ib).system.get_sysinfo.model).toBe("KP115(EU)");
  });
});

/**
 * Sends one UDP datagram from source port 0 to 127.0.0.1:port through a raw socket (the only way to
 * forge that port: a bound socket never has it). Needs CAP_NET_RAW and python3; false without them.
 */
function sendFromPortZero(port: number, payload: Uint8Array): boolean {
  const script = [
    "import socket, struct, sys",
    "data = bytes.fromhex(sys.argv[2])",
    "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)",
    "s.sendto(struct.pack('!HHHH', 0, int(sys.argv[1]), 8 + len(data), 0) + data, ('127.0.0.1', 0))",
  ].join("\n");
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; // a version manager's shim can take seconds
  const run = spawnSync(python, ["-c", script, String(port), Buffer.from(payload).toString("hex")], { timeout: 30_000 });
  return run.status === 0;
}
const rawSockets = sendFromPortZero(9, new Uint8Array(0)); // to the discard port: nothing listens

describe("host plug and datagrams from source port 0", () => {
  it("the UDP adapter drops a send it cannot make (port 0) rather than throwing", async () => {
    const udp = await NodeUdp.open(0, "127.0.0.1");
    const peer = createSocket("udp4");
    try {
      await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
      const got = new Promise<Buffer>((r) => peer.once("message", (m) => r(m)));
      expect(() => udp.send(Uint8Array.of(1, 2, 3), "127.0.0.1", 0)).not.toThrow();
      udp.send(Uint8Array.of(4, 5), "127.0.0.1", peer.address().port);
      expect([...(await got)]).toEqual([4, 5]);
    } finally {
      udp.unbind();
      peer.close();
    }
  });

  it.skipIf(!rawSockets)("a forged datagram from port 0 to the Kasa port and to the captive DNS port changes nothing, and the plug serves on", async () => {
    const plug = await start({ factory: true, dnsPort: 0 });
    expect(plug.dnsPort).toBeGreaterThan(0);
    expect(sendFromPortZero(plug.port, encodeDatagram('{"system":{"set_relay_state":{"state":1}}}'))).toBe(true);
    const dnsQuery = Uint8Array.from([0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, ...Buffer.from("captive"), 5, ...Buffer.from("apple"), 3, ...Buffer.from("com"), 0, 0, 1, 0, 1]);
    expect(sendFromPortZero(plug.dnsPort, dnsQuery)).toBe(true);
    // each port takes its datagrams in order: once a later one is answered, the forged one was handled
    const { text } = await udpAsk(plug.port, '{"system":{"get_sysinfo":{}}}');
    expect(JSON.parse(text).system.get_sysinfo.relay_state).toBe(0);
    expect(plug.relay.on).toBe(false);
    const dns = createSocket("udp4");
    try {
      const answer = new Promise<Buffer>((r) => dns.once("message", (m) => r(m)));
      dns.send(dnsQuery, plug.dnsPort, "127.0.0.1");
      expect((await answer).subarray(0, 2)).toEqual(Buffer.from([0xbe, 0xef]));
    } finally {
      dns.close();
    }
  });
});
