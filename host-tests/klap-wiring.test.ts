// Issue 18's wiring around KLAP, on the core with fake ports: discovery on UDP 20002 as python-kasa
// reads it (kasa/discover.py, its HS100(UK) 4.1 fixture), the owner's credentials (their auth hash
// only; cnCloud.bind from the setup network or with the presence lock open; blank, default and weak
// ones refused; a factory reset forgets them), and the modes (which ports the plug serves, KLAP off
// while the setup page has port 80). The KLAP handshake itself: klap.test.ts and the HTTP side's tests.

import { createHash } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createPlug } from "../src/core/plug.js";
import { KlapServer } from "../src/core/klap/klap-server.js";
import { MAX_PROBE_BYTES, tdpCrc, validProbe } from "../src/core/klap/discovery.js";
import { credentialsProblem, DEFAULT_KASA_CREDENTIALS, MIN_OWNER_PASSWORD } from "../src/core/klap/owner.js";
import { DEVICE_LIMITS } from "../src/core/limits.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { encrypt } from "./support/wire.js";
import { FakeDatagrams, FakeListener, FakeWifi, LAN_CLIENT, testPlug, type TestPlug } from "./support/fakes.js";
import type { PlugOptions } from "../src/core/plug.js";
import { SETUP_IDLE_MS } from "../src/core/timing.js";

afterEach(() => vi.restoreAllMocks());

const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";

function plugIn(mode: PlugOptions["mode"], options: PlugOptions = {}): TestPlug {
  return testPlug({ mode, ...options }, { crypto: nodeCrypto });
}

/** A probe as python-kasa 0.10.2 makes it (_AesDiscoveryQuery.generate_query): header, then {"params":{"rsa_key": PEM}}. */
function probe(payload = `{"params": {"rsa_key": "-----BEGIN PUBLIC KEY-----\\n${"A".repeat(392)}\\n-----END PUBLIC KEY-----\\n"}}`): Uint8Array {
  const body = new TextEncoder().encode(payload);
  const q = new Uint8Array(16 + body.length);
  q.set([2, 0, 0, 1, body.length >> 8, body.length & 255, 17, 0, 0x12, 0x34, 0x56, 0x78], 0);
  q.set(body, 16);
  const crc = tdpCrc(q);
  q.set([crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255], 12);
  return q;
}

/** python-kasa's older probe, Discover.DISCOVERY_QUERY_2: the header alone. */
const QUERY_2 = Uint8Array.from(Buffer.from("020000010000000000000000463cb5d3", "hex"));

/** The discovery_result of python-kasa's fixture tests/fixtures/iot/HS100(UK)_4.1_1.1.0.json (a real HS100 4.1 speaking KLAP). */
const FIXTURE = {
  error_code: 0,
  result: {
    device_id: "00000000000000000000000000000000",
    device_model: "HS100(UK)",
    device_type: "IOT.SMARTPLUGSWITCH",
    factory_default: true,
    hw_ver: "4.1",
    ip: "127.0.0.123",
    mac: "CC-32-E5-00-00-00",
    mgt_encrypt_schm: { encrypt_type: "KLAP", http_port: 80, is_support_https: false },
    owner: "00000000000000000000000000000000",
  },
};

/** Each member's JSON type, nested: what python-kasa's DiscoveryResult.from_dict reads. */
function shape(value: unknown): unknown {
  if (value === null || typeof value !== "object") return typeof value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]).sort());
}

/** The JSON after the 16-byte header, as kasa/discover.py _get_discovery_json reads an answer. */
function discoveryJson(bytes: Uint8Array): any {
  return JSON.parse(new TextDecoder().decode(bytes.subarray(16)));
}

function md5(...parts: Uint8Array[]): Buffer {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The v1 auth hash as python-kasa computes it (KlapTransport.generate_auth_hash), hex. */
function authHashHex(user: string, password: string): string {
  return md5(md5(Buffer.from(user)), md5(Buffer.from(password))).toString("hex");
}

describe("discovery on UDP 20002", () => {
  it("answers python-kasa's probe (and its older header-only one) with the fixture's members and types, KLAP on the advertised port", () => {
    const t = plugIn("secure", { klapPort: 8880 });
    for (const q of [probe(), QUERY_2]) {
      t.discovery.receive(q, LAN_CLIENT, 51000);
      const sent = t.discovery.sent.pop()!;
      expect([sent.address, sent.port]).toEqual([LAN_CLIENT, 51000]);
      const json = discoveryJson(sent.bytes);
      expect(shape(json)).toEqual(shape(FIXTURE));
      expect(json.result).toMatchObject({
        device_type: "IOT.SMARTPLUGSWITCH",
        device_model: "HS100(US)",
        device_id: t.plug.context.device.identity.deviceId,
        mac: t.plug.context.device.identity.mac.replace(/:/g, "-"),
        hw_ver: "1.0",
        factory_default: true,
        mgt_encrypt_schm: { encrypt_type: "KLAP", http_port: 8880, is_support_https: false },
      });
      // the header: TDP version 2, the JSON's length, the probe's serial, a CRC that holds
      expect([...sent.bytes.subarray(0, 4)]).toEqual([2, 0, 0, 1]);
      expect((sent.bytes[4] << 8) | sent.bytes[5]).toBe(sent.bytes.length - 16);
      expect([...sent.bytes.subarray(8, 12)]).toEqual([...q.subarray(8, 12)]);
      expect(validProbe(Uint8Array.from([...sent.bytes.subarray(0, 3), 1, ...sent.bytes.subarray(4)]))).toBe(true);
    }
    expect(t.discovery.sent).toEqual([]);
  });

  it("says factory_default false once the owner's credentials are set, and advertises port 80 by default", async () => {
    const t = plugIn("both");
    t.plug.context.onboarding.openSetup("test");
    expect((await t.ask({ cnCloud: { bind: { username: USER, password: PASSWORD } } }, "setup")).cnCloud.bind).toEqual({ err_code: 0 });
    t.discovery.receive(probe());
    const json = discoveryJson(t.discovery.sent[0].bytes);
    expect(json.result.factory_default).toBe(false);
    expect(json.result.mgt_encrypt_schm.http_port).toBe(80);
    expect(JSON.stringify(json)).not.toContain(PASSWORD);
    expect(JSON.stringify(json)).not.toContain(authHashHex(USER, PASSWORD));
  });

  it("ignores anything but a valid probe, and datagrams from port 0", () => {
    const t = plugIn("secure");
    const good = probe();
    const badCrc = good.slice();
    badCrc[20] ^= 1;
    const badVersion = probe();
    badVersion[0] = 1;
    const badSize = QUERY_2.slice();
    badSize[5] = 4;
    const tooLong = probe(`{"params":{"rsa_key":"${"A".repeat(MAX_PROBE_BYTES)}"}}`);
    const refused = [
      badCrc, badVersion, badSize, tooLong, QUERY_2.subarray(0, 15), new Uint8Array(0),
      encrypt(new TextEncoder().encode('{"system":{"get_sysinfo":{}}}')), // the 9999 query
    ];
    for (const bytes of refused) t.discovery.receive(bytes);
    t.discovery.receive(good, LAN_CLIENT, 0);
    expect(t.discovery.sent).toEqual([]);
    t.discovery.receive(good);
    expect(t.discovery.sent.length).toBe(1);
  });

  it("is rate limited as the 9999 discovery: a flooding sender runs out of answers, another still gets one", () => {
    const t = plugIn("secure");
    const q = probe();
    for (let i = 0; i < 1000; i++) t.discovery.receive(q, "192.168.1.66");
    const answered = t.discovery.sent.length;
    const bytes = t.discovery.sent.reduce((n, s) => n + s.bytes.length, 0);
    expect(answered).toBeGreaterThan(10);
    expect(answered).toBeLessThan(1000);
    expect(bytes).toBeLessThanOrEqual(DEVICE_LIMITS.udpSenderBurstBytes + 512);
    t.discovery.receive(q, "192.168.1.67");
    expect(t.discovery.sent.length).toBe(answered + 1);
    // the budget comes back with time
    t.timers.advance(10_000);
    t.discovery.receive(q, "192.168.1.66");
    expect(t.discovery.sent.length).toBe(answered + 2);
  });

  it("probe-shaped datagrams with a wrong CRC spend their sender's budget (a flood of them is bounded as any other)", () => {
    const t = plugIn("secure");
    const bad = probe();
    bad[15] ^= 1;
    for (let i = 0; i < 5000; i++) t.discovery.receive(bad, "192.168.1.66");
    t.discovery.receive(probe(), "192.168.1.66");
    expect(t.discovery.sent).toEqual([]);
    t.discovery.receive(probe(), "192.168.1.67");
    expect(t.discovery.sent.length).toBe(1);
  });
});

describe("the owner's credentials", () => {
  it("cnCloud.bind from a client of the setup network keeps the auth hash, never the password", async () => {
    const t = plugIn("secure");
    t.plug.context.onboarding.openSetup("test");
    expect((await t.ask({ cnCloud: { bind: { username: USER, password: PASSWORD } } }, "setup")).cnCloud.bind).toEqual({ err_code: 0 });
    const stored = [...t.store.values.entries()];
    expect(stored.some(([, v]) => v.includes(authHashHex(USER, PASSWORD)))).toBe(true);
    expect(stored.filter(([k, v]) => k.includes(PASSWORD) || v.includes(PASSWORD) || v.includes(USER))).toEqual([]);
    expect(Buffer.from(t.plug.context.owner!.authHash()!).toString("hex")).toBe(authHashHex(USER, PASSWORD));
    expect(t.logs.join("\n")).not.toContain(PASSWORD);
    expect((await t.ask({ cnCloud: { get_info: {} } })).cnCloud.get_info).toMatchObject({ binded: 1, username: "" });
    // kept across a restart
    expect(Buffer.from(t.reboot().plug.context.owner!.authHash()!).toString("hex")).toBe(authHashHex(USER, PASSWORD));
  });

  it("cnCloud.bind and unbind from the home network need the presence lock open", async () => {
    const t = plugIn("both");
    const bind = { cnCloud: { bind: { username: USER, password: PASSWORD } } };
    expect((await t.ask(bind)).cnCloud.bind.err_code).toBe(-20);
    expect(t.plug.context.owner!.set()).toBe(false);
    t.unlock();
    expect((await t.ask(bind)).cnCloud.bind).toEqual({ err_code: 0 });
    expect(t.plug.context.owner!.set()).toBe(true);
    // the opening is used: unbind is refused until the next one
    expect((await t.ask({ cnCloud: { unbind: {} } })).cnCloud.unbind.err_code).toBe(-20);
    expect(t.plug.context.owner!.set()).toBe(true);
    t.unlock();
    expect((await t.ask({ cnCloud: { unbind: {} } })).cnCloud.unbind).toEqual({ err_code: 0 });
    expect(t.plug.context.owner!.set()).toBe(false);
    expect((await t.ask({ cnCloud: { get_info: {} } })).cnCloud.get_info.binded).toBe(0);
  });

  it("a setup-network client needs the lock once the setup network is down", async () => {
    const t = plugIn("secure");
    expect(t.plug.context.onboarding.state).not.toBe("setup");
    expect((await t.ask({ cnCloud: { bind: { username: USER, password: PASSWORD } } }, "setup")).cnCloud.bind.err_code).toBe(-20);
  });

  it("blank, default and weak credentials are refused with -3 and a reason, nothing stored, locked or not", async () => {
    const t = plugIn("secure");
    t.plug.context.onboarding.openSetup("test");
    const refused: [unknown, unknown][] = [
      ["", ""], [USER, ""], ["", PASSWORD], [USER, undefined], [7, PASSWORD],
      ...DEFAULT_KASA_CREDENTIALS.map(([u, p]) => [u, p] as [string, string]),
      [USER, "short-pw"], [USER, "x".repeat(MIN_OWNER_PASSWORD - 1)], ["same-as-the-password", "same-as-the-password"], [USER, "p".repeat(129)],
    ];
    for (const [username, password] of refused) {
      for (const from of ["setup", "lan"] as const) {
        const answer = (await t.ask({ cnCloud: { bind: { username, password } } }, from)).cnCloud.bind;
        expect(answer.err_code).toBe(-3);
        expect(answer.err_msg).toMatch(/^invalid argument: /);
        if (typeof password === "string" && password !== "") expect(answer.err_msg).not.toContain(password);
      }
    }
    expect(t.plug.context.owner!.set()).toBe(false);
    expect([...t.store.values.keys()].some((k) => k.startsWith("owner"))).toBe(false);
    expect(credentialsProblem(USER, "x".repeat(MIN_OWNER_PASSWORD))).toBeUndefined();
  });

  it("a factory reset forgets them", async () => {
    const t = plugIn("secure");
    t.plug.context.onboarding.openSetup("test");
    await t.ask({ cnCloud: { bind: { username: USER, password: PASSWORD } } }, "setup");
    expect(t.plug.context.owner!.set()).toBe(true);
    t.plug.context.restart.factoryReset();
    const after = t.reboot();
    expect(after.plug.context.owner!.set()).toBe(false);
    expect([...t.store.values.values()].some((v) => v.includes(authHashHex(USER, PASSWORD)))).toBe(false);
  });

  it("legacy mode answers cnCloud.bind as before (no cloud, nothing kept)", async () => {
    const t = testPlug();
    t.plug.context.onboarding.openSetup("test");
    expect((await t.ask({ cnCloud: { bind: { username: USER, password: PASSWORD } } }, "setup")).cnCloud.bind).toEqual({ err_code: -21, err_msg: "can not connect to the server" });
    expect(t.plug.context.owner).toBeUndefined();
  });
});

describe("the modes", () => {
  it("legacy (the default): the Kasa port only; no KLAP server, no discovery", () => {
    const start = vi.spyOn(KlapServer.prototype, "start");
    const t = testPlug({}, { crypto: nodeCrypto });
    expect(t.kasa.listening).toBe(true);
    t.discovery.receive(probe());
    expect(t.discovery.sent).toEqual([]);
    expect(start).not.toHaveBeenCalled();
  });

  it("secure: KLAP and discovery, the Kasa port neither listened on (TCP) nor answering (UDP)", () => {
    const start = vi.spyOn(KlapServer.prototype, "start");
    const t = plugIn("secure");
    expect(t.kasa.listening).toBe(false);
    t.udp.receive(encrypt(new TextEncoder().encode('{"system":{"get_sysinfo":{}}}')));
    expect(t.udp.sent).toEqual([]);
    expect(start).toHaveBeenCalledTimes(1);
    expect(start.mock.calls[0][0]).toBe(t.klap);
    t.discovery.receive(probe());
    expect(t.discovery.sent.length).toBe(1);
  });

  it("both: the Kasa port, KLAP and discovery", () => {
    const start = vi.spyOn(KlapServer.prototype, "start");
    const t = plugIn("both");
    expect(t.kasa.listening).toBe(true);
    t.udp.receive(encrypt(new TextEncoder().encode('{"system":{"get_sysinfo":{}}}')));
    expect(t.udp.sent.length).toBe(1);
    expect(start).toHaveBeenCalledTimes(1);
    t.discovery.receive(probe());
    expect(t.discovery.sent.length).toBe(1);
  });

  it("KLAP stops before the setup page opens (they share port 80) and starts again once it closes", () => {
    const order: string[] = [];
    vi.spyOn(KlapServer.prototype, "start").mockImplementation(() => void order.push("klap start"));
    vi.spyOn(KlapServer.prototype, "stop").mockImplementation(() => void order.push("klap stop"));
    const t = plugIn("secure");
    const open = t.http.listen.bind(t.http);
    t.http.listen = (accept) => {
      order.push("page open");
      open(accept);
    };
    t.plug.context.onboarding.openSetup("test");
    expect(t.http.listening).toBe(true);
    t.timers.advance(SETUP_IDLE_MS + 60_000); // no client came: the setup network closes, the plug rejoins
    expect(t.plug.context.onboarding.state).not.toBe("setup");
    expect(t.http.listening).toBe(false);
    expect(order).toEqual(["klap start", "klap stop", "page open", "klap start"]);
    t.plug.stop();
    expect(order.at(-1)).toBe("klap stop");
  });

  it("KLAP on a port of its own (the host's 8880, the page on 8080) keeps listening while the setup page is up", () => {
    const order: string[] = [];
    vi.spyOn(KlapServer.prototype, "start").mockImplementation(() => void order.push("klap start"));
    vi.spyOn(KlapServer.prototype, "stop").mockImplementation(() => void order.push("klap stop"));
    const t = plugIn("secure", { httpPort: 8080, klapPort: 8880 });
    t.plug.context.onboarding.openSetup("test");
    expect(t.http.listening).toBe(true);
    t.timers.advance(SETUP_IDLE_MS + 60_000);
    expect(t.plug.context.onboarding.state).not.toBe("setup");
    expect(order).toEqual(["klap start"]);
    // an unprovisioned plug (setup from the start) serves KLAP at once too
    const wifi = new FakeWifi();
    wifi.forget();
    const fresh = testPlug({ mode: "secure", httpPort: 8080, klapPort: 8880 }, { wifi, crypto: nodeCrypto });
    expect(fresh.plug.context.onboarding.state).toBe("setup");
    expect(order).toEqual(["klap start", "klap start"]);
  });

  it("a KLAP mode without the crypto port or a KLAP listener is a clear error at createPlug", () => {
    const t = testPlug();
    const base = {
      relay: { set() {} }, led: { set() {} }, button: { listen() {} }, clock: t.clock, timers: t.timers, store: t.store, wifi: t.wifi,
      tcp: new FakeListener(), udp: new FakeDatagrams(), http: new FakeListener(), dns: new FakeDatagrams(), random: (n: number) => new Uint8Array(n),
      restart: { restart() {} }, log() {},
    };
    expect(() => createPlug(base, { mode: "secure" })).toThrow("mode secure needs KLAP: this platform gave the plug no crypto port or no KLAP listener");
    expect(() => createPlug({ ...base, crypto: nodeCrypto }, { mode: "both" })).toThrow(/mode both needs KLAP/);
    expect(() => createPlug({ ...base, crypto: nodeCrypto, klap: new FakeListener() }, { mode: "open" as "both" })).toThrow('unknown mode "open": legacy, secure or both');
  });
});
