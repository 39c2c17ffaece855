// The core's server on in-memory sockets: ordering of answers and their after-effects, and bounds.

import { describe, expect, it } from "vitest";
import { createPlug } from "../src/core/plug.js";
import { KasaServer } from "../src/core/protocol/server.js";
import { DEVICE_LIMITS } from "../src/core/limits.js";
import type { Dispatcher } from "../src/core/protocol/dispatcher.js";
import { FrameDecoder, decodeDatagram } from "../src/core/protocol/wire/frame.js";
import { encodeDatagram, encodeFrame } from "./support/wire.js";
import { utf8Decode } from "../src/core/protocol/wire/utf8.js";
import type { DatagramPort, StreamHandler, StreamSocket } from "../src/ports/ports.js";
import { RADIO_SWITCH_DELAY_MS } from "../src/core/timing.js";
import { FakeClock, FakeListener, FakeTimers, FakeWifi, MemoryStore, testPlug } from "./support/fakes.js";

function rig() {
  const events: string[] = [];
  let accept!: (s: StreamSocket) => StreamHandler;
  let receive!: (b: Uint8Array, a: string, p: number) => void;
  const sent: { text: string; address: string; port: number }[] = [];
  const clock = new FakeClock();
  const timers = new FakeTimers(clock);
  const wifi = new FakeWifi();
  wifi.scanSilently = true; // answers only when the test says
  let finishScan: (() => void) | null = null;
  wifi.scan = (done) => {
    finishScan = () => done([{ ssid: "Later", keyType: 3, rssi: -50 }]);
  };
  const join = wifi.join.bind(wifi);
  wifi.join = (c) => {
    events.push(`join ${c?.ssid ?? "saved"}`);
    join(c);
  };
  const plug = createPlug({
    relay: { set: (on) => events.push(`relay ${on}`) },
    led: { set() {} },
    button: { listen() {} },
    clock, timers, wifi,
    store: new MemoryStore(),
    tcp: { listen: (a) => (accept = (s) => a(s, "192.168.1.20")), close() {} },
    http: { listen() {}, close() {} },
    dns: { listen() {}, send() {}, close() {} },
    random: (n) => new Uint8Array(n),
    udp: { listen: (r) => (receive = r), send: (b, address, port) => sent.push({ text: decodeDatagram(b), address, port }), close() {} },
    restart: { restart: () => events.push("restart") },
    log: () => {},
  }, { presenceLock: false }); // ordering only here: the lock has its own tests
  plug.start();
  const connect = () => {
    const answers: string[] = [];
    const decoder = new FrameDecoder(1 << 20);
    const conn = { closed: false, answers, handler: null as unknown as StreamHandler };
    conn.handler = accept({
      write: (bytes) => {
        events.push("write");
        decoder.feed(bytes, (p) => answers.push(utf8Decode(p)));
      },
      unsent: () => 0,
      room: () => Infinity,
      close: () => {
        events.push("close");
        conn.closed = true;
      },
      abort: () => {
        events.push("abort");
        conn.closed = true;
      },
    });
    return conn;
  };
  return { events, connect, receive: (t: string) => receive(encodeDatagram(t), "10.0.0.9", 50000), sent, timers, finishScan: () => finishScan?.() };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("server", () => {
  it("writes set_stainfo's answer before the radio changes mode", async () => {
    const r = rig();
    const c = r.connect();
    c.handler.data(encodeFrame('{"netif":{"set_stainfo":{"ssid":"Home","password":"12345678","key_type":3}}}'));
    await flush();
    expect(r.events.at(-1)).toBe("write");
    expect(JSON.parse(c.answers[0]).netif.set_stainfo.err_code).toBe(0);
    // the radio switches only once the answer had time to reach the client
    r.timers.advance(RADIO_SWITCH_DELAY_MS - 1);
    expect(r.events.at(-1)).toBe("write");
    r.timers.advance(1);
    expect(r.events.slice(-2)).toEqual(["write", "join Home"]);
  });

  it("answers a pending request before closing when the client's FIN comes first", async () => {
    const r = rig();
    const c = r.connect();
    c.handler.data(encodeFrame('{"netif":{"get_scaninfo":{"refresh":1}}}'));
    c.handler.end();
    await flush();
    expect(c.closed).toBe(false);
    r.finishScan();
    await flush();
    expect(r.events.slice(-2)).toEqual(["write", "close"]);
    expect(JSON.parse(c.answers[0]).netif.get_scaninfo.ap_list).toEqual([{ ssid: "Later", key_type: 3 }]);
  });

  it("keeps answers in request order even when an earlier one waits on the radio", async () => {
    const r = rig();
    const c = r.connect();
    c.handler.data(new Uint8Array([...encodeFrame('{"netif":{"get_scaninfo":{}}}'), ...encodeFrame('{"system":{"set_relay_state":{"state":1}}}')]));
    await flush();
    expect(c.answers).toEqual([]);
    r.finishScan();
    await flush();
    expect(c.answers.map((a) => Object.keys(JSON.parse(a))[0])).toEqual(["netif", "system"]);
  });

  it("closes a connection that queues more than 8 requests, answering none of the excess", async () => {
    const r = rig();
    const c = r.connect();
    const scan = encodeFrame('{"netif":{"get_scaninfo":{}}}');
    const many = new Uint8Array(scan.length * 10);
    for (let i = 0; i < 10; i++) many.set(scan, i * scan.length);
    c.handler.data(many);
    expect(c.closed).toBe(true);
    r.finishScan();
    await flush();
    expect(c.answers.length).toBeLessThanOrEqual(1);
  });

  it("closes on an oversized length and reads nothing after it", async () => {
    const r = rig();
    const c = r.connect();
    c.handler.data(new Uint8Array([0, 0, 0x40, 0x01]));
    expect(c.closed).toBe(true);
    c.handler.data(encodeFrame('{"system":{"set_relay_state":{"state":1}}}'));
    await flush();
    expect(r.events).not.toContain("relay true");
  });

  it("answers a datagram to its sender, then runs its effects", async () => {
    const r = rig();
    r.receive('{"system":{"reboot":{"delay":1}}}');
    await flush();
    expect(r.sent).toEqual([{ text: '{"system":{"reboot":{"err_code":0}}}', address: "10.0.0.9", port: 50000 }]);
    r.timers.advance(1000);
    expect(r.events).toContain("restart");
  });
});

describe("server when the engine fails", () => {
  it("closes the connection instead of leaving it waiting, and keeps serving others", async () => {
    let fail = true;
    const dispatcher = { handle: async () => { if (fail) throw new RangeError("stack overflow"); return {}; } } as unknown as Dispatcher;
    const logs: string[] = [];
    const clock = new FakeClock();
    const server = new KasaServer(dispatcher, { log: (l) => logs.push(l), timers: new FakeTimers(clock), now: () => clock.mono }, DEVICE_LIMITS);
    let accept!: (s: StreamSocket) => StreamHandler;
    server.start({ listen: (a) => (accept = (s) => a(s, "192.168.1.20")), close() {} }, { listen() {}, send() {}, close() {} });
    const open = () => {
      const c = { closed: false, writes: 0, handler: null as unknown as StreamHandler };
      c.handler = accept({ write: () => c.writes++, unsent: () => 0, room: () => Infinity, close: () => (c.closed = true), abort: () => (c.closed = true) });
      return c;
    };
    const a = open();
    a.handler.data(encodeFrame("{}"));
    await flush();
    expect(a.closed).toBe(true);
    expect(logs).toEqual(["request failed: stack overflow"]);
    fail = false;
    const b = open();
    b.handler.data(encodeFrame("{}"));
    await flush();
    expect(b.writes).toBe(1);
    expect(b.closed).toBe(false);
  });
});

describe("a UDP port that cannot be listened on", () => {
  it("leaves the plug running without discovery or captive DNS: TCP answers and the setup page is served", () => {
    const logs: string[] = [];
    const clock = new FakeClock();
    const timers = new FakeTimers(clock);
    const wifi = new FakeWifi();
    wifi.forget(); // unprovisioned: the setup page and its DNS open at start
    const taken: DatagramPort = {
      listen() {
        throw new Error("address in use");
      },
      send() {
        throw new Error("not listening");
      },
      close() {},
    };
    const kasa = new FakeListener();
    const http = new FakeListener();
    const plug = createPlug({
      relay: { set() {} }, led: { set() {} }, button: { listen() {} },
      clock, timers, wifi, store: new MemoryStore(),
      tcp: kasa, udp: taken, http, dns: taken,
      random: (n) => new Uint8Array(n).fill(7),
      restart: { restart() {} },
      log: (l) => logs.push(l),
    });
    plug.start();
    expect(logs).toContain("udp: address in use; discovery off");
    expect(logs).toContain("dns: address in use; captive portal off (the page is still at its address)");
    const answers: string[] = [];
    const decoder = new FrameDecoder(1 << 20);
    const handler = kasa.accept!({ write: (b) => decoder.feed(b, (p) => answers.push(utf8Decode(p))), unsent: () => 0, room: () => Infinity, close() {}, abort() {} });
    handler.data(encodeFrame('{"system":{"get_sysinfo":{}}}'));
    expect(JSON.parse(answers[0]).system.get_sysinfo.err_code).toBe(0);
    const page = http.connect();
    page.handler.data(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n\r\n"));
    expect(page.text).toMatch(/^HTTP\/1\.1 200 OK/);
    plug.stop();
  });
});

describe("an answer larger than the socket's room", () => {
  /** A connection whose socket takes `room` bytes, then nothing until the test gives it more (`more`). */
  function slowClient(t: ReturnType<typeof testPlug>, room: number) {
    const c = { room, resumed: 0, closed: false, answers: [] as string[], handler: null as unknown as StreamHandler };
    const decoder = new FrameDecoder(1 << 20);
    c.handler = t.kasa.accept!({
      write: (bytes) => {
        expect(bytes.length).toBeLessThanOrEqual(c.room); // never more than it has room for: nothing queued
        c.room -= bytes.length;
        decoder.feed(bytes, (p) => c.answers.push(utf8Decode(p)));
      },
      unsent: () => 0,
      room: () => c.room,
      resume: () => void c.resumed++,
      close: () => (c.closed = true),
      abort: () => (c.closed = true),
    });
    return Object.assign(c, {
      more(n: number) {
        c.room += n;
        c.handler.writable!();
      },
    });
  }

  it("goes out in parts as room comes, whole and in order, the next request waiting, its effects after the last part", async () => {
    const t = testPlug({ presenceLock: false });
    t.plug.start();
    const c = slowClient(t, 100);
    c.handler.data(Buffer.concat([encodeFrame('{"system":{"get_sysinfo":{},"reboot":{"delay":1}}}'), encodeFrame('{"time":{"get_time":{}}}')]));
    await flush();
    expect(c.room).toBe(0);
    expect(c.answers).toEqual([]);
    let parts = 1;
    while (c.answers.length < 2 && parts < 100) {
      t.timers.advance(1000); // (the reboot's 1 s passes too: it waits for the whole answer)
      if (c.answers.length === 0) expect(t.restarts).toBe(0);
      c.more(100);
      await flush();
      parts++;
    }
    expect(parts).toBeGreaterThan(5);
    const first = JSON.parse(c.answers[0]);
    expect(first.system.get_sysinfo.err_code).toBe(0);
    expect(first.system.reboot).toEqual({ err_code: 0 });
    expect(JSON.parse(c.answers[1]).time.get_time.err_code).toBe(0);
    t.timers.advance(1000);
    expect(t.restarts).toBe(1);
    expect(c.closed).toBe(false);
  });

  it("takes no more requests while one is owed, and has the socket read on once it is answered", async () => {
    const t = testPlug();
    t.plug.start();
    const c = slowClient(t, 10);
    expect(c.handler.accepting!()).toBe(true);
    c.handler.data(encodeFrame('{"system":{"get_sysinfo":{}}}'));
    await flush();
    expect(c.handler.accepting!()).toBe(false); // an adapter leaves what follows in the network stack
    expect(c.resumed).toBe(0);
    c.more(10_000);
    await flush();
    expect(c.answers).toHaveLength(1);
    expect(c.handler.accepting!()).toBe(true);
    expect(c.resumed).toBe(1);
  });

  it("gives a client whose socket has no room at first the idle time to start taking its answer", async () => {
    const t = testPlug();
    t.plug.start();
    t.timers.advance(10 * DEVICE_LIMITS.idleMs); // (a plug that has been up a while)
    const c = slowClient(t, 0);
    c.handler.data(encodeFrame('{"system":{"get_sysinfo":{}}}'));
    await flush();
    t.timers.advance(DEVICE_LIMITS.idleMs / 2);
    expect(c.closed).toBe(false);
    c.more(10_000);
    await flush();
    expect(JSON.parse(c.answers[0]).system.get_sysinfo.err_code).toBe(0);
  });

  it("closes a connection whose client stops taking its answer, after the idle time", async () => {
    const t = testPlug();
    t.plug.start();
    const c = slowClient(t, 10);
    c.handler.data(encodeFrame('{"system":{"get_sysinfo":{}}}'));
    await flush();
    t.timers.advance(DEVICE_LIMITS.idleMs - 1000);
    expect(c.closed).toBe(false);
    t.timers.advance(2000 + 1000);
    expect(c.closed).toBe(true);
    expect(t.logs).toContain("client not reading its answer: closing connection");
  });

  it("never sends a torn rule list: a change between its parts closes the connection, and asking again gets the new list", async () => {
    const t = testPlug({ presenceLock: false });
    t.plug.start();
    const add = { schedule: { add_rule: { name: "n", enable: 1, wday: [1, 1, 1, 1, 1, 1, 1], repeat: 1, stime_opt: 0, smin: 60, sact: 1, etime_opt: -1, emin: 0, eact: -1 } } };
    expect((await t.ask(add)).schedule.add_rule.err_code).toBe(0);
    const c = slowClient(t, 50);
    c.handler.data(encodeFrame('{"schedule":{"get_rules":{}}}'));
    await flush();
    expect((await t.ask(add)).schedule.add_rule.err_code).toBe(0); // another client's change, between the parts
    c.more(1000);
    await flush();
    expect(c.closed).toBe(true);
    expect(c.answers).toHaveLength(0); // the first part went out; the rest, which would not match it, did not
    expect(t.logs.some((line) => line.includes("the rules changed while their list was sent"))).toBe(true);
    expect((await t.ask({ schedule: { get_rules: {} } })).schedule.get_rules.rule_list).toHaveLength(2);
  });

  it("keeps the countdown's rule as its answer began when the countdown ends between the parts", async () => {
    const t = testPlug({ presenceLock: false });
    t.plug.start();
    const add = { schedule: { add_rule: { name: "n", enable: 1, wday: [1, 1, 1, 1, 1, 1, 1], repeat: 1, stime_opt: 0, smin: 60, sact: 1, etime_opt: -1, emin: 0, eact: -1 } } };
    for (let i = 0; i < 3; i++) expect((await t.ask(add)).schedule.add_rule.err_code).toBe(0);
    expect((await t.ask({ count_down: { add_rule: { enable: 1, delay: 1, act: 1, name: "c" } } })).count_down.add_rule.err_code).toBe(0);
    const c = slowClient(t, 50);
    c.handler.data(encodeFrame('{"schedule":{"get_rules":{}},"count_down":{"get_rules":{}}}'));
    await flush();
    t.timers.advance(1500); // the countdown ends: its rule is disabled
    expect((await t.ask({ count_down: { get_rules: {} } })).count_down.get_rules.rule_list[0].enable).toBe(0);
    c.more(1000);
    await flush();
    expect(c.closed).toBe(false);
    const answer = JSON.parse(c.answers[0]);
    expect(answer.schedule.get_rules.rule_list).toHaveLength(3);
    expect(answer.count_down.get_rules.rule_list[0].enable).toBe(1);
  });

  it("sends a rule list in parts whole when nothing changes in between", async () => {
    const t = testPlug({ presenceLock: false });
    t.plug.start();
    const add = { schedule: { add_rule: { name: "n", enable: 1, wday: [1, 1, 1, 1, 1, 1, 1], repeat: 1, stime_opt: 0, smin: 60, sact: 1, etime_opt: -1, emin: 0, eact: -1 } } };
    for (let i = 0; i < 3; i++) expect((await t.ask(add)).schedule.add_rule.err_code).toBe(0);
    const c = slowClient(t, 50);
    c.handler.data(encodeFrame('{"schedule":{"get_rules":{}}}'));
    await flush();
    await t.ask({ system: { get_sysinfo: {} } }); // another client's read changes nothing
    c.more(1000);
    await flush();
    expect(c.closed).toBe(false);
    expect(JSON.parse(c.answers[0]).schedule.get_rules.rule_list).toHaveLength(3);
  });
});
