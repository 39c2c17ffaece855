// Bounded resources (limits.ts): connections, idle and frame deadlines, frame size, JSON shape, UDP
// answers per second and the relay's flood guard; and the physical-presence lock (presence.ts).

import { describe, expect, it } from "vitest";
import { SWEEP_MS } from "../src/core/protocol/connections.js";
import { DEVICE_LIMITS, HOST_LIMITS, LOG_LINES_PER_MINUTE, withOverrides } from "../src/core/limits.js";
import { SCAN_TIMEOUT_MS } from "../src/core/modules/netif.js";
import { PRESENCE_REQUIRED, PRESENCE_USED } from "../src/core/device/presence.js";
import { PRESENCE_WINDOW_MS, SETTINGS_SAVE_DELAY_MS, UNLOCK_HOLD_MS } from "../src/core/timing.js";
import { decodeDatagram, FrameDecoder } from "../src/core/protocol/wire/frame.js";
import { jsonWithin } from "../src/core/protocol/wire/json-shape.js";
import { utf8Decode, utf8Encode } from "../src/core/protocol/wire/utf8.js";
import { testPlug, type TestPlug } from "./support/fakes.js";
import { encodeDatagram, encodeFrame } from "./support/wire.js";
import UPDATE from "./support/python-kasa-update.json" with { type: "json" };

const L = DEVICE_LIMITS;
const flush = () => new Promise((r) => setTimeout(r, 0));

/** A raw client on the test plug's Kasa port: answers decoded, `closed` once the plug closed it. */
function client(t: TestPlug) {
  const c = { answers: [] as string[], closed: false, send: (_: Uint8Array | string) => {}, end: () => {} };
  const decoder = new FrameDecoder(1 << 20);
  const handler = t.kasa.accept!({
    write: (bytes) => decoder.feed(bytes, (p) => c.answers.push(utf8Decode(p))),
    unsent: () => 0,
    room: () => Infinity,
    close: () => (c.closed = true),
    abort: () => (c.closed = true),
  });
  c.send = (data) => handler.data(typeof data === "string" ? encodeFrame(data) : data);
  c.end = () => handler.end();
  return c;
}

const SYSINFO = '{"system":{"get_sysinfo":{}}}';
const nested = (depth: number) => "[".repeat(depth - 2) + "]".repeat(depth - 2);

describe("JSON shape bound (before JSON.parse)", () => {
  const within = (text: string) => jsonWithin(utf8Encode(text), L.maxJsonDepth, L.maxJsonItems);

  it("lets every real client request through, python-kasa's combined update included", () => {
    expect(within(JSON.stringify(UPDATE))).toBe(true);
    const rule = { stime_opt: 0, wday: [1, 0, 0, 1, 1, 0, 0], smin: 1014, enable: 1, repeat: 1, etime_opt: -1, name: "lights [on]", eact: -1, month: 0, sact: 1, year: 0, longitude: 0, day: 0, force: 0, latitude: 0, emin: 0 };
    expect(within(JSON.stringify({ schedule: { add_rule: rule } }))).toBe(true);
    expect(within('{"time":{"set_timezone":{"index":18,"year":2024,"month":1,"mday":1,"hour":0,"min":0,"sec":0}}}')).toBe(true);
  });

  it("counts depth exactly and ignores brackets, colons and commas inside strings", () => {
    const deep = (d: number) => '{"a":'.repeat(d) + "1" + "}".repeat(d);
    expect(within(deep(L.maxJsonDepth))).toBe(true);
    expect(within(deep(L.maxJsonDepth + 1))).toBe(false);
    expect(within(`{"system":{"set_dev_alias":{"alias":"${"[{:,\\\"".repeat(200)}"}}}`)).toBe(true);
    expect(within("[".repeat(10_000))).toBe(false); // stops at the bound, no matter the length
  });

  it("counts members and array elements together", () => {
    const members = (n: number) => "{" + Array.from({ length: n }, (_, i) => `"k${i}":0`).join(",") + "}";
    const elements = (n: number) => `{"a":[${Array(n - 1).fill(0).join(",")}]}`;
    expect(within(members(L.maxJsonItems))).toBe(true);
    expect(within(members(L.maxJsonItems + 1))).toBe(false);
    expect(within(elements(L.maxJsonItems))).toBe(true); // one member + n-1 elements
    expect(within(elements(L.maxJsonItems + 1))).toBe(false);
    expect(within('{"a":[]}')).toBe(true);
  });
});

describe("Kasa server bounds", () => {
  it(`never holds more than ${L.maxConnections} connections: a new client takes the place of the one idle longest, a never-used one first`, () => {
    const t = testPlug();
    const open = Array.from({ length: L.maxConnections }, () => {
      const c = client(t);
      t.timers.advance(100);
      return c;
    });
    open[0].send(SYSINFO); // a client that asked: kept over the never-used ones however long it is idle
    t.timers.advance(100);
    const clients = [...open];
    for (let i = 1; i < L.maxConnections; i++) {
      const next = client(t);
      clients.push(next);
      expect(clients.filter((c) => !c.closed)).toEqual([open[0], ...open.slice(i + 1), ...clients.slice(L.maxConnections)]);
      next.send(SYSINFO);
      expect(JSON.parse(next.answers[0]).system.get_sysinfo.err_code).toBe(0);
      t.timers.advance(100);
    }
    // every open connection has asked now: the one idle longest goes
    const last = client(t);
    expect(open[0].closed).toBe(true);
    expect(clients.filter((c) => !c.closed)).toHaveLength(L.maxConnections - 1);
    last.send(SYSINFO);
    expect(last.answers).toHaveLength(1);
    expect(t.logs.filter((l) => /^connection idle \d+ s \(\d+ requests\) closed for a new client/.test(l))).toHaveLength(L.maxConnections);
  });

  it(`refuses a new client at once only while all ${L.maxConnections} open connections are busy answering`, async () => {
    const t = testPlug();
    t.wifi.scanSilently = true; // a scan that never answers: get_scaninfo waits for its timeout
    const busy = Array.from({ length: L.maxConnections }, () => client(t));
    for (const c of busy) c.send('{"netif":{"get_scaninfo":{"refresh":1}}}');
    t.timers.advance(SCAN_TIMEOUT_MS - SWEEP_MS);
    const extra = client(t);
    expect(extra.closed).toBe(true);
    extra.send(SYSINFO);
    expect(extra.answers).toEqual([]);
    expect(t.logs).toContain(`connection refused: all ${L.maxConnections} open are busy answering`);
    for (const c of busy) expect(c.closed).toBe(false);
    t.timers.advance(SWEEP_MS); // the scans time out and are answered
    await flush();
    for (const c of busy) expect(JSON.parse(c.answers[0]).netif.get_scaninfo).toEqual({ ap_list: [], err_code: 0 });
    const next = client(t);
    expect(next.closed).toBe(false);
    expect(busy.filter((c) => c.closed)).toEqual([busy[0]]);
  });

  it(`closes a connection idle for ${L.idleMs / 1000} s, not one that keeps asking`, () => {
    const t = testPlug();
    const idle = client(t);
    const busy = client(t);
    for (let s = 0; s < 3 * L.idleMs; s += L.idleMs / 2) {
      busy.send(SYSINFO);
      t.timers.advance(L.idleMs / 2);
    }
    expect(idle.closed).toBe(true);
    expect(busy.closed).toBe(false);
    expect(busy.answers).toHaveLength(6);
    const fresh = client(t);
    t.timers.advance(L.idleMs - SWEEP_MS);
    expect(fresh.closed).toBe(false);
    t.timers.advance(SWEEP_MS);
    expect(fresh.closed).toBe(true);
  });

  it(`drops a frame that has not finished arriving ${L.frameDeadlineMs / 1000} s after its first byte`, () => {
    const t = testPlug();
    const frame = encodeFrame(SYSINFO);
    // slow but in time: answered
    const slow = client(t);
    slow.send(frame.subarray(0, 2));
    t.timers.advance(L.frameDeadlineMs - SWEEP_MS);
    slow.send(frame.subarray(2));
    expect(JSON.parse(slow.answers[0]).system.get_sysinfo.err_code).toBe(0);
    // a header and then nothing (a slowloris): dropped, to within one sweep
    const stalled = client(t);
    stalled.send(frame.subarray(0, 10));
    t.timers.advance(L.frameDeadlineMs - SWEEP_MS);
    expect(stalled.closed).toBe(false);
    t.timers.advance(2 * SWEEP_MS);
    expect(stalled.closed).toBe(true);
    expect(t.logs).toContain("frame not finished in time: closing connection");
    // a frame completing, then the next one's first byte: the deadline counts from that byte
    const chained = client(t);
    t.timers.advance(L.frameDeadlineMs - SWEEP_MS);
    chained.send(new Uint8Array([...frame, 0]));
    t.timers.advance(L.frameDeadlineMs - SWEEP_MS);
    expect(chained.closed).toBe(false);
    t.timers.advance(2 * SWEEP_MS);
    expect(chained.closed).toBe(true);
  });

  it(`closes a connection that declares a frame over ${L.maxFrameBytes} bytes; UDP drops such a datagram`, () => {
    const t = testPlug();
    const c = client(t);
    c.send(new Uint8Array([0, 0, (L.maxFrameBytes + 1) >> 8, (L.maxFrameBytes + 1) & 255]));
    expect(c.closed).toBe(true);
    const ok = client(t);
    ok.send(encodeFrame(`{"system":{"set_dev_alias":{"alias":"x"},"get_sysinfo":{}}}`.padEnd(L.maxFrameBytes, " ")));
    expect(JSON.parse(ok.answers[0]).system.get_sysinfo.alias).toBe("x");
    t.udp.receive(encodeDatagram(SYSINFO.padEnd(L.maxFrameBytes + 1, " ")));
    expect(t.udp.sent).toEqual([]);
  });

  it(`closes a client that asks and never reads before its unread answers pass ${L.maxUnsentBytes} bytes, dropping them; the others are served`, () => {
    const t = testPlug();
    // a socket whose peer never reads: everything written stays unsent
    const s = { unsent: 0, peak: 0, writes: 0, aborted: false, closed: false };
    const handler = t.kasa.accept!({
      write: (bytes) => {
        s.unsent += bytes.length;
        s.peak = Math.max(s.peak, s.unsent);
        s.writes++;
      },
      unsent: () => s.unsent,
      room: () => Infinity,
      close: () => (s.closed = true),
      abort: () => {
        s.aborted = true;
        s.unsent = 0;
      },
    });
    const other = client(t);
    let asked = 0;
    while (!s.aborted && asked < 100) {
      handler.data(encodeFrame(SYSINFO));
      asked++;
      other.send(SYSINFO); // a client that reads is served all along
    }
    expect(s.aborted).toBe(true);
    expect(s.closed).toBe(false); // dropped at once, not flushed first
    expect(s.peak).toBeLessThanOrEqual(L.maxUnsentBytes);
    const answerBytes = other.answers[0].length + 4;
    expect(s.peak).toBeGreaterThan(L.maxUnsentBytes - answerBytes); // answered until the next answer did not fit
    expect(asked).toBe(Math.floor(L.maxUnsentBytes / answerBytes) + 1);
    expect(t.logs.filter((l) => l.startsWith("client not reading"))).toEqual([`client not reading: ${s.peak} bytes unsent, closing connection`]);
    const writes = s.writes;
    handler.data(encodeFrame(SYSINFO));
    expect(s.writes).toBe(writes); // nothing more for it
    expect(other.answers).toHaveLength(asked);
    expect(other.closed).toBe(false);
  });

  it("drops what an idle connection left unread when it closes it, rather than holding it for a client that never reads", () => {
    const t = testPlug();
    const s = { unsent: 0, how: "" };
    const handler = t.kasa.accept!({
      write: (bytes) => void (s.unsent += bytes.length),
      unsent: () => s.unsent,
      room: () => Infinity,
      close: () => (s.how = "after sending"),
      abort: () => (s.how = "dropped"),
    });
    handler.data(encodeFrame(SYSINFO));
    t.timers.advance(L.idleMs + SWEEP_MS);
    expect(s.how).toBe("dropped");
    const ended = t.kasa.accept!({ write() {}, unsent: () => 0, room: () => Infinity, close: () => (s.how = "after sending"), abort: () => (s.how = "dropped") });
    ended.end(); // the peer's FIN: closed once answered, nothing dropped
    expect(s.how).toBe("after sending");
  });

  it("sends one answer larger than the unsent bound when nothing is unsent: only answers piling up count", () => {
    const t = testPlug({ limits: { ...L, maxUnsentBytes: 64 } });
    const s = { unsent: 0, aborted: false };
    const handler = t.kasa.accept!({
      write: (bytes) => void (s.unsent += bytes.length),
      unsent: () => s.unsent,
      room: () => Infinity,
      close: () => {},
      abort: () => (s.aborted = true),
    });
    handler.data(encodeFrame(SYSINFO));
    expect(s.unsent).toBeGreaterThan(64);
    expect(s.aborted).toBe(false);
    s.unsent = 0; // the client read it
    handler.data(encodeFrame(SYSINFO));
    expect(s.aborted).toBe(false);
    handler.data(encodeFrame(SYSINFO)); // this time the first answer is still unread
    expect(s.aborted).toBe(true);
  });

  it(`logs at most ${LOG_LINES_PER_MINUTE} lines a minute however many bad connections come, and then says how many it left out`, () => {
    const t = testPlug();
    t.timers.advance(60_000); // the boot's lines are in an earlier minute: the flood has the whole budget
    const before = t.logs.length;
    for (let i = 0; i < 200; i++) client(t).send(new Uint8Array([0, 0, (L.maxFrameBytes + 1) >> 8, (L.maxFrameBytes + 1) & 255]));
    const flood = t.logs.slice(before);
    expect(flood).toHaveLength(LOG_LINES_PER_MINUTE);
    expect(flood.every((l) => l === "frame too large: closing connection")).toBe(true);
    t.timers.advance(60_000);
    client(t).send(new Uint8Array([0, 0, (L.maxFrameBytes + 1) >> 8, (L.maxFrameBytes + 1) & 255]));
    expect(t.logs.slice(before + LOG_LINES_PER_MINUTE)).toEqual([
      `(180 more log lines not shown: over ${LOG_LINES_PER_MINUTE} a minute)`,
      "frame too large: closing connection",
    ]);
  });

  it("answers an over-deep or over-wide request with -3 and does nothing of it", () => {
    const t = testPlug();
    const c = client(t);
    const deep = `{"system":{"set_relay_state":{"state":1,"x":${nested(L.maxJsonDepth)}}}}`;
    const wide = `{"system":{"set_relay_state":{"state":1}},"z":[${Array(L.maxJsonItems).fill(0).join(",")}]}`;
    for (const text of [deep, wide]) {
      c.send(text);
      expect(JSON.parse(c.answers.at(-1)!)).toEqual({
        err_code: -3,
        err_msg: `request too complex: over ${L.maxJsonDepth} levels or ${L.maxJsonItems} members`,
      });
      t.udp.receive(encodeDatagram(text));
      expect(JSON.parse(decodeDatagram(t.udp.sent.at(-1)!.bytes)).err_code).toBe(-3);
    }
    expect(t.relay).toEqual([false]);
    expect(c.closed).toBe(false); // and the connection serves on
    c.send(SYSINFO);
    expect(JSON.parse(c.answers.at(-1)!).system.get_sysinfo.relay_state).toBe(0);
  });
});

describe("UDP budgets (per sender address, and the whole plug's)", () => {
  const discovery = encodeDatagram(SYSINFO);
  /** Datagrams the plug answered to this address. */
  const answeredTo = (t: TestPlug, address: string) => t.udp.sent.filter((s) => s.address === address);
  const bytesTo = (t: TestPlug, address: string) => answeredTo(t, address).reduce((n, s) => n + s.bytes.length, 0);

  it("answers every request of a client that uses UDP as its transport: 20 at once, then 30 one after another", async () => {
    const t = testPlug();
    for (let i = 0; i < 20; i++) t.udp.receive(discovery, "192.168.1.30", 50000 + i);
    await flush();
    expect(answeredTo(t, "192.168.1.30")).toHaveLength(20);
    for (let i = 0; i < 30; i++) {
      t.udp.receive(encodeDatagram(i % 2 ? SYSINFO : '{"schedule":{"get_rules":{}},"time":{"get_time":{}}}'), "192.168.1.30", 51000);
      await flush();
      expect(answeredTo(t, "192.168.1.30")).toHaveLength(21 + i);
    }
    expect(t.logs.filter((l) => l.startsWith("udp:"))).toEqual([]);
  });

  it("holds one address flooding to its own budget: every other sender is still answered", async () => {
    const t = testPlug();
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 400; i++) t.udp.receive(discovery, "10.0.0.66", 9999);
      // discovery as clients do it (python-kasa: 3 packets), from two other hosts
      for (let i = 0; i < 3; i++) t.udp.receive(discovery, "192.168.1.20", 50000 + i);
      t.udp.receive(discovery, "192.168.1.21", 40000);
      t.timers.advance(1000);
    }
    await flush();
    expect(answeredTo(t, "192.168.1.20")).toHaveLength(30);
    expect(answeredTo(t, "192.168.1.21")).toHaveLength(10);
    const flooded = answeredTo(t, "10.0.0.66");
    expect(flooded.length).toBeGreaterThan(0);
    expect(flooded.length).toBeLessThan(4000 / 4);
    // at most its burst and its rate for the 9 s after, plus one answer over the line
    expect(bytesTo(t, "10.0.0.66")).toBeLessThanOrEqual(L.udpSenderBurstBytes + 9 * L.udpSenderBytesPerSecond + L.udpMaxAnswerBytes);
    expect(t.logs.some((l) => /^udp: \d+ datagrams left unanswered/.test(l))).toBe(true);
  });

  it("holds a flood from many addresses to the plug's budget, and answers again once it stops", async () => {
    const t = testPlug();
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 400; i++) t.udp.receive(discovery, `10.1.${i >> 8}.${i & 255}`, 9999);
      t.timers.advance(1000);
    }
    await flush();
    const total = t.udp.sent.reduce((n, s) => n + s.bytes.length, 0);
    expect(total).toBeLessThanOrEqual(L.udpBurstBytes + 4 * L.udpBytesPerSecond + L.udpMaxAnswerBytes);
    expect(total).toBeGreaterThan(L.udpBurstBytes / 2);
    t.timers.advance(10_000);
    const before = t.udp.sent.length;
    t.udp.receive(discovery, "192.168.1.20", 50000);
    expect(t.udp.sent.length - before).toBe(1);
  });

  it(`answers over UDP in one datagram of at most ${L.udpMaxAnswerBytes} bytes: in a longer answer each method gets a short error (TCP gets it whole)`, async () => {
    const t = testPlug();
    const c = client(t);
    const rule = { name: "x".repeat(32), enable: 1, wday: [1, 1, 1, 1, 1, 1, 1], repeat: 1, stime_opt: 0, smin: 600, sact: 1, etime_opt: -1, emin: 0, eact: -1 };
    for (let i = 0; i < 20; i++) expect((await t.ask({ schedule: { add_rule: rule } })).schedule.add_rule.err_code).toBe(0);
    const request = '{"schedule":{"get_rules":{}}}';
    c.send(request);
    await flush();
    expect(utf8Encode(c.answers[0]).length).toBeGreaterThan(L.udpMaxAnswerBytes);
    expect(JSON.parse(c.answers[0]).schedule.get_rules.rule_list).toHaveLength(20);
    t.udp.receive(encodeDatagram(request));
    await flush();
    const answer = t.udp.sent.at(-1)!.bytes;
    expect(answer.length).toBeLessThanOrEqual(120);
    const tooLong = { err_code: -5, err_msg: `answer over ${L.udpMaxAnswerBytes} bytes: ask over TCP` };
    expect(JSON.parse(decodeDatagram(answer))).toEqual({ schedule: { get_rules: tooLong } });
    // every method asked gets it in its place, a module's own error kept
    t.udp.receive(encodeDatagram('{"schedule":{"get_rules":{},"get_next_action":{}},"system":{"get_sysinfo":{}},"nope":{"x":{}}}'));
    await flush();
    expect(JSON.parse(decodeDatagram(t.udp.sent.at(-1)!.bytes))).toEqual({
      schedule: { get_rules: tooLong, get_next_action: tooLong }, system: { get_sysinfo: tooLong }, nope: { err_code: -1, err_msg: "module not support" },
    });
    // while the rules are few the list fits: a client asking over UDP gets it
    expect((await t.ask({ schedule: { delete_all_rules: {} } })).schedule.delete_all_rules.err_code).toBe(0);
    for (let i = 0; i < 4; i++) await t.ask({ schedule: { add_rule: rule } });
    t.udp.receive(encodeDatagram(request));
    await flush();
    expect(JSON.parse(decodeDatagram(t.udp.sent.at(-1)!.bytes)).schedule.get_rules.rule_list).toHaveLength(4);
  });

  it("drops a datagram from source port 0 (forged: nothing can be sent to it) and serves on", async () => {
    const t = testPlug();
    t.udp.receive(encodeDatagram('{"system":{"set_relay_state":{"state":1}}}'), "192.168.1.20", 0);
    await flush();
    expect(t.udp.sent).toEqual([]);
    expect(t.relay).toEqual([false]);
    t.udp.receive(discovery, "192.168.1.20", 50000);
    expect(t.udp.sent).toHaveLength(1);
  });
});

describe("relay flood guard", () => {
  const changes = (t: TestPlug) => t.switches.slice(1).map((s) => s.at);

  it(`moves the relay at most ${L.relayChanges} times in ${L.relayWindowMs / 1000} s and never twice within ${L.relayGapMs} ms; the last state asked for wins`, async () => {
    const t = testPlug();
    // a script gone wrong: 200 toggles in 2 s
    for (let i = 0; i < 200; i++) {
      await t.ask({ system: { set_relay_state: { state: i % 2 === 0 ? 1 : 0 } } });
      t.timers.advance(10);
    }
    await t.ask({ system: { set_relay_state: { state: 1 } } }); // the last word
    t.timers.advance(60_000);
    const at = changes(t);
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(L.relayGapMs);
    for (let i = L.relayChanges; i < at.length; i++) expect(at[i] - at[i - L.relayChanges]).toBeGreaterThanOrEqual(L.relayWindowMs);
    expect(at.length).toBeLessThanOrEqual(L.relayChanges + 1);
    expect(t.plug.context.device.relay).toBe(true);
    expect(t.logs.some((l) => l.startsWith("relay flood guard"))).toBe(true);
  });

  it("never holds back normal automations: a switch every 2 s for 10 minutes, or 10 blinks a second apart", async () => {
    const t = testPlug();
    for (let i = 0; i < 300; i++) {
      await t.ask({ system: { set_relay_state: { state: i % 2 === 0 ? 1 : 0 } } });
      expect(t.plug.context.device.relay).toBe(i % 2 === 0); // at once, every time
      t.timers.advance(2000);
    }
    t.timers.advance(L.relayWindowMs);
    for (let i = 0; i < L.relayChanges; i++) {
      t.plug.context.device.toggle();
      expect(t.relay.at(-1)).toBe(t.plug.context.device.relay);
      t.timers.advance(1000);
    }
    expect(t.logs.some((l) => l.startsWith("relay flood guard"))).toBe(false);
  });

  it("sysinfo shows the state asked for while the guard holds it; the button toggles from that state", async () => {
    const t = testPlug();
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    await t.ask({ system: { set_relay_state: { state: 0 } } }); // within the gap: held
    expect(t.plug.context.device.relay).toBe(true);
    expect((await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.relay_state).toBe(0);
    t.plug.context.device.toggle(); // from "off on its way": back to on, nothing to do
    t.timers.advance(L.relayGapMs);
    expect(t.relay).toEqual([false, true]);
  });
});

describe("physical-presence lock", () => {
  const LOCKED = { err_code: PRESENCE_REQUIRED.err_code, err_msg: PRESENCE_REQUIRED.err_msg };
  const guarded = {
    system: { reset: {}, set_mac_addr: { mac: "01:23:45:67:89:AB" }, set_device_id: { deviceId: "A".repeat(40) }, set_hw_id: { hwId: "B".repeat(32) } },
    netif: { set_stainfo: { ssid: "Elsewhere", password: "12345678", key_type: 3 } },
    cnCloud: { set_server_url: { server: "evil.example" } },
  };

  it("refuses reset, a new network, identity and cloud server changes from the LAN, changing nothing", async () => {
    const t = testPlug();
    t.timers.advance(SETTINGS_SAVE_DELAY_MS); // the first boot's own settings (model, setup passphrase) reach flash
    const before = [...t.store.values];
    const info = (await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    const answer = await t.ask(guarded);
    expect(answer).toEqual({
      system: { reset: LOCKED, set_mac_addr: LOCKED, set_device_id: LOCKED, set_hw_id: LOCKED },
      netif: { set_stainfo: LOCKED },
      cnCloud: { set_server_url: LOCKED },
    });
    t.timers.advance(60_000);
    expect(t.restarts).toBe(0);
    expect(t.wifi.joined).toEqual([]);
    expect([...t.store.values]).toEqual(before);
    expect((await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo).toMatchObject({ mac: info.mac, deviceId: info.deviceId, hwId: info.hwId });
  });

  it("keeps switching, naming, rules and time open, so Home Assistant and Homebridge never need the button", async () => {
    const t = testPlug();
    await t.ask({ time: { set_timezone: { index: 18, year: 2026, month: 1, mday: 5, hour: 12, min: 0, sec: 0 } } });
    const answer = await t.ask({
      system: { set_relay_state: { state: 1 }, set_dev_alias: { alias: "Lamp" }, set_led_off: { off: 1 }, reboot: { delay: 1 } },
      schedule: { add_rule: { stime_opt: 0, wday: [1, 1, 1, 1, 1, 1, 1], smin: 600, enable: 1, repeat: 1, etime_opt: -1, name: "r", eact: -1, month: 0, sact: 1, year: 0, longitude: 0, day: 0, force: 0, latitude: 0, emin: 0 } },
      count_down: { add_rule: { enable: 1, delay: 60, act: 0, name: "c" } },
    });
    for (const module of Object.values(answer) as Record<string, { err_code: number }>[])
      for (const result of Object.values(module)) expect(result.err_code).toBe(0);
  });

  /** The plug's LED patterns and levels as it logged them, from `from` on. */
  const ledLines = (t: TestPlug, from = 0) => t.logs.slice(from).filter((l) => l.startsWith("LED "));

  it("does not open on a short press: it toggles the relay, which anyone can see, and unlocks nothing", async () => {
    const t = testPlug();
    t.button(true);
    t.timers.advance(100);
    t.button(false);
    t.timers.advance(100);
    expect(t.relay).toEqual([false, true]);
    expect((await t.ask({ cnCloud: { set_server_url: { server: "evil.example" } } })).cnCloud.set_server_url).toEqual(LOCKED);
    // nor does a 1-2 s press, nor a 5 s hold (setup), nor any number of short presses
    for (let i = 0; i < 10; i++) {
      t.button(true);
      t.timers.advance(100);
      t.button(false);
      t.timers.advance(100);
    }
    t.button(true);
    t.timers.advance(1500);
    t.button(false);
    t.timers.advance(100);
    expect((await t.ask({ system: { set_hw_id: { hwId: "C".repeat(32) } } })).system.set_hw_id).toEqual(LOCKED);
  });

  it("opens with a 2-5 s hold, for ONE locked command, with nothing on the network showing it; the LED does", async () => {
    const t = testPlug();
    const info = (await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    const from = t.logs.length;
    t.button(true);
    t.timers.advance(UNLOCK_HOLD_MS + 100);
    expect(ledLines(t, from)).toEqual(['LED pattern "holdUnlock"']); // "let go now to unlock"
    t.button(false);
    t.timers.advance(100);
    expect(ledLines(t, from)).toEqual(['LED pattern "holdUnlock"', 'LED pattern "unlocked"']);
    expect(t.relay).toEqual([false]);
    expect((await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo).toEqual(info);
    expect((await t.ask({ cnCloud: { set_server_url: { server: "a.example" } } })).cnCloud.set_server_url).toEqual({ err_code: 0 });
    expect(ledLines(t, from).at(-1)).toBe("LED off"); // back to the relay
    expect((await t.ask({ cnCloud: { set_server_url: { server: "b.example" } } })).cnCloud.set_server_url.err_code).toBe(-20);
    expect((await t.ask({ cnCloud: { get_info: {} } })).cnCloud.get_info.server).toBe("a.example");
    // two locked commands in one request: the first runs, the second is refused
    t.unlock();
    expect((await t.ask({ system: { set_hw_id: { hwId: "C".repeat(32) }, set_device_id: { deviceId: "D".repeat(40) } } })).system).toEqual({
      set_hw_id: { err_code: 0 },
      set_device_id: { err_code: -20, err_msg: PRESENCE_USED.err_msg },
    });
  });

  it(`closes unused after ${PRESENCE_WINDOW_MS / 60000} minutes, and the LED goes back`, async () => {
    const t = testPlug();
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    t.unlock();
    t.timers.advance(PRESENCE_WINDOW_MS - 100); // the lock opened 50 ms before unlock() returned
    expect(ledLines(t).at(-1)).toBe('LED pattern "unlocked"');
    t.timers.advance(100);
    expect(ledLines(t).at(-1)).toBe("LED on");
    expect((await t.ask({ cnCloud: { set_server_url: { server: "b.example" } } })).cnCloud.set_server_url).toEqual(LOCKED);
  });

  it("answers a command with invalid parameters the same, locked or open, and such a command does not use the opening", async () => {
    const invalid = {
      system: { reset: { delay: -1 }, set_mac_addr: { mac: "01:23" }, set_device_id: { deviceId: "A" }, set_hw_id: { hwId: 5 } },
      netif: { set_stainfo: { ssid: "Elsewhere", password: "1234567", key_type: 3 } },
      cnCloud: { set_server_url: { server: "" } },
      emeter: { set_vgain_igain: { vgain: 1, igain: 16835 }, start_calibration: { vtarget: 230000 } },
    };
    const open = await testPlug({ model: "HS110", forceModel: true, presenceLock: false }).ask(invalid);
    const t = testPlug({ model: "HS110", forceModel: true });
    const before = [...t.store.values];
    const locked = await t.ask(invalid);
    expect(locked).toEqual(open);
    expect(JSON.stringify(locked)).not.toContain("-20");
    t.unlock();
    expect(await t.ask(invalid)).toEqual(open);
    expect([...t.store.values]).toEqual(before);
    expect((await t.ask({ system: { set_mac_addr: { mac: "01:23:45:67:89:AB" } } })).system.set_mac_addr).toEqual({ err_code: 0 });
  });

  it("lets the owner see that another command used the opening first: its refusal says so, and so does the log", async () => {
    const t = testPlug();
    t.unlock();
    // a client on the LAN sending a locked command over and over is first after the gesture
    expect((await t.ask({ cnCloud: { set_server_url: { server: "evil.example" } } })).cnCloud.set_server_url).toEqual({ err_code: 0 });
    const owner = (await t.ask({ cnCloud: { set_server_url: { server: "mine.example" } } })).cnCloud.set_server_url;
    expect(owner).toEqual({ err_code: -20, err_msg: PRESENCE_USED.err_msg });
    expect(owner.err_msg).toMatch(/used by an earlier command/);
    expect(t.logs.some((l) => /used by an earlier command/.test(l))).toBe(true);
    // later on, the plain refusal again
    t.timers.advance(PRESENCE_WINDOW_MS);
    expect((await t.ask({ cnCloud: { set_server_url: { server: "mine.example" } } })).cnCloud.set_server_url).toEqual(LOCKED);
  });

  it("guards the meter's calibration: a valid set_vgain_igain or start_calibration from the LAN changes nothing", async () => {
    const t = testPlug({ model: "HS110", forceModel: true });
    const before = [...t.store.values];
    const answer = await t.ask({ emeter: { set_vgain_igain: { vgain: 215392, igain: 16835 }, start_calibration: { vtarget: 230_000, itarget: 4348 } } });
    expect(answer.emeter).toEqual({ set_vgain_igain: LOCKED, start_calibration: LOCKED });
    expect([...t.store.values]).toEqual(before);
    expect((await t.ask({ emeter: { get_vgain_igain: {} } })).emeter.get_vgain_igain).toEqual({ vgain: 13462, igain: 16835, err_code: 0 });
    t.unlock();
    expect((await t.ask({ emeter: { set_vgain_igain: { vgain: 13000, igain: 16000 } } })).emeter.set_vgain_igain).toEqual({ err_code: 0 });
  });

  it("leaves onboarding open: an unprovisioned plug, or a client of the setup network while it is up, takes set_stainfo", async () => {
    const t = testPlug();
    t.wifi.forget();
    const fresh = t.reboot();
    expect((await fresh.ask({ netif: { set_stainfo: guarded.netif.set_stainfo } })).netif.set_stainfo.err_code).toBe(0);
    const joined = testPlug();
    joined.plug.context.onboarding.openSetup("test"); // as the 5 s hold or the opt-in fallback does
    expect((await joined.ask({ netif: { set_stainfo: guarded.netif.set_stainfo } }, "setup")).netif.set_stainfo.err_code).toBe(0);
    // the home network still needs the button (onboarding.test.ts: setup mode on a provisioned plug)
    const other = testPlug();
    other.plug.context.onboarding.openSetup("test");
    expect((await other.ask({ netif: { set_stainfo: guarded.netif.set_stainfo } })).netif.set_stainfo).toEqual(LOCKED);
  });

  it("is off when the build says so; test mode and firmware download do not exist either way", async () => {
    const open = testPlug({ presenceLock: false });
    expect((await open.ask({ cnCloud: { set_server_url: { server: "x.example" } } })).cnCloud.set_server_url).toEqual({ err_code: 0 });
    for (const t of [open, testPlug()]) {
      const answer = await t.ask({ system: { set_test_mode: { enable: 1 }, download_firmware: { url: "http://x/fw.bin" }, flash_firmware: {} } });
      expect(answer.system).toEqual({
        set_test_mode: { err_code: -2, err_msg: "member not support" },
        download_firmware: { err_code: -2, err_msg: "member not support" },
        flash_firmware: { err_code: -2, err_msg: "member not support" },
      });
    }
  });
});

describe("per-board limits", () => {
  it("takes a board's whole-number overrides within 10x the default and ignores the rest, saying so", () => {
    const warnings: string[] = [];
    const limits = withOverrides(DEVICE_LIMITS, { maxConnections: "8", maxFrameBytes: 4096, idleMs: 0, udpSenders: 1e9, typo: 1 }, (l) => warnings.push(l));
    expect(limits).toMatchObject({ maxConnections: 8, maxFrameBytes: 4096, idleMs: DEVICE_LIMITS.idleMs, udpSenders: DEVICE_LIMITS.udpSenders });
    expect(warnings).toHaveLength(3);
    expect(Object.isFrozen(limits)).toBe(true);
    expect(withOverrides(DEVICE_LIMITS, undefined, () => {})).toBe(DEVICE_LIMITS);
  });

  it("gives the host room for a benchmark's clients with the same protocol bounds", () => {
    expect(HOST_LIMITS.maxConnections).toBeGreaterThanOrEqual(16);
    expect(HOST_LIMITS.maxJsonDepth).toBe(DEVICE_LIMITS.maxJsonDepth);
    expect(HOST_LIMITS.udpSenderBytesPerSecond).toBe(DEVICE_LIMITS.udpSenderBytesPerSecond);
    expect(HOST_LIMITS.udpMaxAnswerBytes).toBe(DEVICE_LIMITS.udpMaxAnswerBytes);
  });
});

describe("setup page bounds", () => {
  it("holds as many connections as the Kasa port: a new one takes the oldest idle one's place, and is refused only while all are answering", () => {
    const t = testPlug();
    t.wifi.forget();
    t.wifi.scanSilently = true; // the page waits for a scan until the test's timeout
    const u = t.reboot(); // unprovisioned: the setup page is up
    expect(u.http.listening).toBe(true);
    const open = Array.from({ length: L.maxConnections }, () => {
      const c = u.http.connect();
      u.timers.advance(100);
      return c;
    });
    const newer = u.http.connect();
    expect(open.map((c) => c.closed)).toEqual(open.map((_, i) => i === 0));
    expect(newer.closed).toBe(false);
    const answering = [...open.slice(1), newer];
    for (const c of answering) c.handler.data(utf8Encode("GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n\r\n"));
    expect(u.http.connect().closed).toBe(true); // all busy: refused at once
    u.timers.advance(SCAN_TIMEOUT_MS);
    for (const c of answering) expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*<\/html>$/);
    for (const c of answering) expect(c.closed).toBe(true);
  });

  it("drops a request still arriving after the frame deadline", () => {
    const t = testPlug();
    t.wifi.forget();
    const u = t.reboot();
    const slow = u.http.connect();
    slow.handler.data(utf8Encode("GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n")); // and then nothing
    u.timers.advance(L.frameDeadlineMs - SWEEP_MS);
    expect(slow.closed).toBe(false);
    u.timers.advance(2 * SWEEP_MS);
    expect(slow.closed).toBe(true);
    expect(slow.text).toBe("");
  });
});
