// The owner's page (issue 19) over fake ports: served once joined, only to the owner (a challenge
// that never sends the password, then MAC'd requests), refusing cross-site requests, bounded; its
// script's MD5 and SHA-256 against node:crypto; the recent log lines; the update upload into the
// updater; and the page on KLAP's listener where the two share one (a device's port 80).

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createPlug, type PlugOptions, type PlugPorts } from "../src/core/plug.js";
import { HOST_LIMITS } from "../src/core/limits.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { LogRing } from "../src/core/owner/log-ring.js";
import { OWNER_CRYPTO_JS, OWNER_PAGE, OWNER_PAGE_HEAD, OWNER_SCRIPT, OWNER_SCRIPT_HASH } from "../src/core/owner/page.js";
import type { UpdateReceiver, UpdateStatus } from "../src/core/update/image.js";
import { FakeDatagrams, FakeListener, FakeWifi, LAN_CLIENT, testPlug, type TestPlug } from "./support/fakes.js";
import { OwnerClient, type Send } from "./support/owner-client.js";

const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";
const HOST = "192.168.1.50";
const utf8 = (s: string) => new TextEncoder().encode(s);

type Conn = ReturnType<FakeListener["connect"]>;

/** Plays one HTTP exchange on `listener`: the bytes sent (in the pieces given), the client reading all; the answer parsed. */
async function exchange(listener: FakeListener, parts: (string | Uint8Array)[], room = Infinity): Promise<{ status: number; head: string; body: string; conn: Conn }> {
  const c = listener.connect(LAN_CLIENT, room);
  for (const p of parts) c.handler.data(typeof p === "string" ? utf8(p) : p);
  for (let i = 0; i < 10_000 && !c.closed; i++) {
    await Promise.resolve();
    c.take();
  }
  const at = c.text.indexOf("\r\n\r\n");
  return { status: Number(c.text.slice(9, 12)), head: c.text.slice(0, at), body: c.text.slice(at + 4), conn: c };
}

function post(path: string, body: Uint8Array | string, headers: Record<string, string> = {}): Uint8Array {
  const b = typeof body === "string" ? utf8(body) : body;
  const h = { Host: HOST, Origin: `http://${HOST}`, "Content-Length": String(b.length), ...headers };
  const head = utf8(`POST ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);
  return Uint8Array.from([...head, ...b]);
}

/** The client's `send` into a fake listener (as from the page's own origin unless `headers` say otherwise). */
function sender(listener: FakeListener, headers: Record<string, string> = {}): Send {
  return async (path, body, extra = {}) => {
    const r = await exchange(listener, [post(path, body, { ...headers, ...extra })]);
    return { status: r.status, text: r.body };
  };
}

/** A joined plug (FakeWifi joins at once) with the crypto port; credentials set unless `credentials` false. */
function joined(options: PlugOptions = {}, credentials = true): TestPlug {
  const t = testPlug(options, { crypto: nodeCrypto });
  expect(t.plug.context.onboarding.state).toBe("joined");
  if (credentials) new OwnerKeys(t).store();
  return t;
}

/** The owner's credentials, as the setup page or --credentials keep them (the owner's page's KlapOwner reads the same key). */
class OwnerKeys {
  constructor(private readonly t: TestPlug) {}
  store(user = USER, password = PASSWORD) {
    const md5 = (b: Buffer) => createHash("md5").update(b).digest();
    const hash = md5(Buffer.concat([md5(Buffer.from(user)), md5(Buffer.from(password))])).toString("hex");
    this.t.plug.context.settings.put("owner_hash", hash);
    this.t.plug.context.settings.flush();
  }
}

async function loggedIn(t: TestPlug, listener = t.http): Promise<OwnerClient> {
  const c = new OwnerClient(sender(listener));
  expect(await c.login(USER, PASSWORD)).toBe(200);
  return c;
}

const relayOn = (t: TestPlug) => t.plug.context.device.relay;

describe("the owner's page's script", () => {
  it("computes MD5 and SHA-256 as node:crypto does, for every length around the block boundaries", () => {
    const f = new Function(`${OWNER_CRYPTO_JS}; return { M, S, H, X, C };`)() as {
      M: (b: Uint8Array) => Uint8Array; S: (b: Uint8Array) => Uint8Array; H: (b: Uint8Array) => string; X: (h: string) => Uint8Array; C: (...a: Uint8Array[]) => Uint8Array;
    };
    for (let n = 0; n < 200; n++) {
      const b = new Uint8Array(n).map((_, i) => (i * 131 + n * 7) & 255);
      expect(f.H(f.M(b))).toBe(createHash("md5").update(b).digest("hex"));
      expect(f.H(f.S(b))).toBe(createHash("sha256").update(b).digest("hex"));
    }
    expect(f.H(f.X("00ff10"))).toBe("00ff10");
    expect(Array.from(f.C(Uint8Array.of(1), Uint8Array.of(2, 3)))).toEqual([1, 2, 3]);
  });

  it("is allowed by its hash in the Content-Security-Policy, which forbids framing and other scripts; the page is ASCII and under 9 KB", () => {
    expect(OWNER_SCRIPT_HASH).toBe(`sha256-${createHash("sha256").update(OWNER_SCRIPT).digest("base64")}`);
    expect(OWNER_PAGE_HEAD).toContain(`script-src '${OWNER_SCRIPT_HASH}'`);
    expect(OWNER_PAGE_HEAD).toContain("frame-ancestors 'none'");
    const page = OWNER_PAGE.join("");
    expect(page).toContain(`<script>${OWNER_SCRIPT}</script>`);
    expect(/^[\x20-\x7e]*$/.test(page)).toBe(true);
    expect(page.length).toBeLessThan(9 * 1024);
  });
});

describe("the owner's page", () => {
  it("is served on the setup page's port once joined (legacy mode by default), with its security headers", async () => {
    const t = joined();
    const r = await exchange(t.http, [`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`]);
    expect(r.status).toBe(200);
    expect(r.head).toContain(`Content-Security-Policy: default-src 'none'`);
    expect(r.head).toContain("X-Frame-Options: DENY");
    expect(r.body).toBe(OWNER_PAGE.join(""));
    expect(Number(/Content-Length: (\d+)/.exec(r.head)![1])).toBe(r.body.length);
  });

  it("is written no faster than the socket takes it", async () => {
    const t = joined();
    const r = await exchange(t.http, [`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`], 100);
    expect(r.conn.overRoom).toBe(false);
    expect(r.body).toBe(OWNER_PAGE.join(""));
  });

  it("is not served while the setup network is up, nor in secure mode unless asked, nor when turned off", async () => {
    const wifi = new FakeWifi();
    wifi.forget();
    const setup = testPlug({}, { wifi, crypto: nodeCrypto });
    expect(setup.plug.context.onboarding.state).toBe("setup");
    expect((await exchange(setup.http, [`GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n\r\n`])).body).toContain('action="/join"');
    expect(joined({ mode: "secure" }).http.listening).toBe(false);
    expect(joined({ ownerPage: false }).http.listening).toBe(false);
    // (testPlug's KLAP port is the page's, 80, as on a device: KLAP's listener hands the page its requests)
    const secure = joined({ mode: "secure", ownerPage: true });
    expect((await exchange(secure.klap, [`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`])).body).toBe(OWNER_PAGE.join(""));
    // a platform without the crypto port has no owner's credentials: no page
    expect(testPlug({}).http.listening).toBe(false);
    expect(() => testPlug({ ownerPage: true })).toThrow(/crypto port/);
  });

  it("has its credentials asked for on the setup page in every mode, saying what they guard there", async () => {
    const form = async (mode: PlugOptions["mode"]) => {
      const wifi = new FakeWifi();
      wifi.forget();
      const t = testPlug({ mode }, { wifi, crypto: nodeCrypto });
      return (await exchange(t.http, [`GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n\r\n`])).body;
    };
    const legacy = await form("legacy");
    expect(legacy).toContain('name="u"');
    expect(legacy).toContain("The username and password of this plug's owner's page");
    expect(legacy).not.toContain("python-kasa");
    const both = await form("both");
    expect(both).toContain("Home Assistant or python-kasa will ask for, and this plug's owner's page asks for");
    const secure = await form("secure");
    expect(secure).toContain("Home Assistant or python-kasa will ask for: only clients");
    expect(secure).not.toContain("owner's page");
  });

  it("lets the owner in and acts: the relay, the name, the LED, the status with the lock and the recent log lines", async () => {
    const t = joined();
    const c = await loggedIn(t);
    const on = await c.kasa({ system: { set_relay_state: { state: 1 } } });
    expect(on.status).toBe(200);
    expect(JSON.parse(on.text)).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    expect(relayOn(t)).toBe(true);
    expect(JSON.parse((await c.kasa({ system: { set_dev_alias: { alias: "Desk lamp" } } })).text).system.set_dev_alias.err_code).toBe(0);
    expect(t.plug.context.device.alias).toBe("Desk lamp");
    await c.kasa({ system: { set_led_off: { off: 1 } } });
    const info = JSON.parse((await c.kasa({ system: { get_sysinfo: {} } })).text).system.get_sysinfo;
    expect([info.alias, info.relay_state, info.led_off]).toEqual(["Desk lamp", 1, 1]);
    const status = await c.status();
    expect(status.status).toBe(200);
    const s = JSON.parse(status.text);
    expect(s.lock).toBe("locked");
    expect(s.log).toContain("owner page: logged in from 192.168.1.20\n");
    // the lock's gesture shows
    t.unlock();
    expect(JSON.parse((await c.status()).text).lock).toBe("open");
  });

  it("refuses a wrong password (that log-in is gone), and a plug with no credentials refuses everyone: nothing changes", async () => {
    const t = joined();
    const wrong = new OwnerClient(sender(t.http));
    expect(await wrong.login(USER, "not-the-password-1")).toBe(403);
    expect(t.logs).toContain("owner page: log-in from 192.168.1.20 refused: wrong credentials");
    const none = joined({}, false);
    const c = new OwnerClient(sender(none.http));
    const hello = await sender(none.http)("/owner/hello", "00".repeat(16));
    expect([hello.status, JSON.parse(hello.text)]).toEqual([403, { error: "no owner credentials set" }]);
    expect(await c.login(USER, PASSWORD)).toBe(403);
    // forged sessions and MACs get nothing done
    c.session = "00".repeat(16);
    c.key = new Uint8Array(32);
    expect((await c.kasa({ system: { set_relay_state: { state: 1 } } })).status).toBe(403);
    expect(relayOn(none)).toBe(false);
    expect(relayOn(t)).toBe(false);
  });

  it("refuses a replayed request, a wrong MAC, a MAC made for another route, and requests after the credentials change", async () => {
    const t = joined();
    const c = await loggedIn(t);
    const body = utf8(JSON.stringify({ system: { set_relay_state: { state: 1 } } }));
    const path = c.next("kasa", body);
    expect((await sender(t.http)(path, body)).status).toBe(200);
    expect(relayOn(t)).toBe(true);
    t.timers.advance(1000); // (the relay's own guard against chatter: changes at least relayGapMs apart)
    await c.kasa({ system: { set_relay_state: { state: 0 } } });
    t.timers.advance(1000);
    expect((await sender(t.http)(path, body)).status).toBe(403); // the same seq again
    t.timers.advance(1000);
    expect(relayOn(t)).toBe(false);
    // a seq 2^32 above a used one has the same 4 bytes under the MAC: refused, not taken as new
    expect((await sender(t.http)(path.replace(/&q=(\d+)/, (_, q) => `&q=${Number(q) + 2 ** 32}`), body)).status).toBe(400);
    t.timers.advance(1000);
    expect(relayOn(t)).toBe(false);
    const later = c.next("kasa", body);
    expect((await sender(t.http)(later.replace(/&m=([0-9a-f])/, (_, d) => `&m=${d === "0" ? "1" : "0"}`), body)).status).toBe(403);
    const other = c.next("status", body); // a MAC over this body for another route
    expect((await sender(t.http)(other.replace("/owner/status", "/owner/kasa"), body)).status).toBe(403);
    expect(relayOn(t)).toBe(false);
    new OwnerKeys(t).store(USER, "another-password-99");
    expect((await c.kasa({ system: { get_sysinfo: {} } })).status).toBe(403);
  });

  it("refuses cross-site requests and names that could be rebound, before reading their body", async () => {
    const t = joined();
    const c = await loggedIn(t);
    const body = utf8(JSON.stringify({ system: { set_relay_state: { state: 1 } } }));
    const path = c.next("kasa", body);
    const cross = await sender(t.http, { Origin: "http://evil.example" })(path, body);
    expect([cross.status, JSON.parse(cross.text)]).toEqual([403, { error: "not sent from the owner's page" }]);
    const hidden = await sender(t.http, { Origin: "null" })(path, body);
    expect(hidden.status).toBe(403);
    const rebound = await exchange(t.http, [post(path, body, { Host: "plug.rebind.example", Origin: "http://plug.rebind.example" })]);
    expect(rebound.status).toBe(403);
    const page = await exchange(t.http, [`GET / HTTP/1.1\r\nHost: rebind.example\r\n\r\n`]);
    expect(page.status).toBe(403);
    expect(relayOn(t)).toBe(false);
    // the owner's own request, with that seq, still goes through: the refusals used nothing
    expect((await sender(t.http)(path, body)).status).toBe(200);
    t.timers.advance(1000);
    expect(relayOn(t)).toBe(true);
  });

  it("bounds log-ins per address (429), sessions per plug (the oldest goes), and their idle time (30 min)", async () => {
    const t = joined({ limits: { ...HOST_LIMITS, klapSenderHandshakes: 3, klapSenderHandshakesPerMinute: 1, ownerSessions: 2 } });
    const a = await loggedIn(t);
    const b = await loggedIn(t);
    const c = await loggedIn(t); // the budget of 3 is spent, and a's session made room for c's
    expect(await new OwnerClient(sender(t.http)).login(USER, PASSWORD)).toBe(429);
    expect((await a.status()).status).toBe(403);
    expect((await b.status()).status).toBe(200);
    t.timers.advance(29 * 60_000);
    expect((await c.status()).status).toBe(200);
    t.timers.advance(2 * 60_000);
    expect((await b.status()).status).toBe(403); // unused for 31 minutes
    expect((await c.status()).status).toBe(200); // used 2 minutes ago
  });

  it("answers malformed requests with a 4xx and closes, without reading an unbounded head or body", async () => {
    const t = joined();
    const bad = async (parts: (string | Uint8Array)[]) => {
      const r = await exchange(t.http, parts);
      expect(r.conn.closed).toBe(true);
      return r.status;
    };
    expect(await bad([`GET /nothing HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`])).toBe(404);
    expect(await bad([`POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0\r\n\r\n`])).toBe(405);
    expect(await bad([`GET /owner/kasa HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`])).toBe(404);
    expect(await bad([post("/owner/kasa?s=zz", "{}")])).toBe(400);
    expect(await bad([post("/owner/hello", "00".repeat(17))])).toBe(413);
    expect(await bad([post("/owner/hello", "0g".repeat(16))])).toBe(400);
    expect(await bad([`POST /owner/hello HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n`])).toBe(411);
    const kasa = `/owner/kasa?s=${"00".repeat(16)}&q=1&m=${"00".repeat(32)}`;
    expect(await bad([post(kasa, "x".repeat(HOST_LIMITS.maxFrameBytes + 1))])).toBe(413);
    expect(await bad([`GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Long: ${"a".repeat(HOST_LIMITS.klapHeadBytes)}`])).toBe(431);
  });

  it("streams a Kasa answer as the Kasa port does, no faster than the socket takes it, and bounds its length", async () => {
    const t = joined({ limits: { ...HOST_LIMITS, klapMaxAnswerBytes: 600 } });
    const c = await loggedIn(t);
    const body = utf8(JSON.stringify({ system: { get_sysinfo: {} } }));
    const r = await exchange(t.http, [post(c.next("kasa", body), body)], 64);
    expect(r.conn.overRoom).toBe(false);
    expect(JSON.parse(r.body).system.get_sysinfo.model).toBe("HS100(US)");
    const big = await c.kasa({ system: { get_sysinfo: {} }, schedule: { get_rules: {} }, time: { get_time: {} }, netif: { get_stainfo: {} } });
    expect(JSON.parse(big.text).system.get_sysinfo).toEqual({ err_code: -5, err_msg: "answer over 600 bytes" });
  });
});

/** An updater that takes what it is given (the lead's Updater's interface). */
class FakeUpdater {
  received: number[] = [];
  cancelled = 0;
  finished = 0;
  refusal: string | undefined;
  verdict: UpdateStatus = "accepted";
  receive(length: number): UpdateReceiver | string {
    if (this.refusal !== undefined) return this.refusal;
    const self = this;
    return {
      write(chunk: Uint8Array) {
        self.received.push(...chunk);
        return "receiving";
      },
      length,
    } as unknown as UpdateReceiver;
  }
  cancel() {
    this.cancelled++;
  }
  finish(): UpdateStatus {
    this.finished++;
    return this.verdict;
  }
}

describe("the owner's page's update upload", () => {
  const image = new Uint8Array(3000).map((_, i) => (i * 7) & 255);

  it("streams the image into the updater in the pieces it arrives in, MAC'd on its length; answers the verdict", async () => {
    const t = joined();
    const updater = new FakeUpdater();
    (t.plug.context as { updater?: FakeUpdater }).updater = updater;
    const c = await loggedIn(t);
    const whole = post(c.next("update", utf8(String(image.length))), image);
    const r = await exchange(t.http, [whole.subarray(0, 100), whole.subarray(100, 2000), whole.subarray(2000)]);
    expect([r.status, JSON.parse(r.body)]).toEqual([200, { status: "accepted", detail: "the plug restarts into it" }]);
    expect(Uint8Array.from(updater.received)).toEqual(image);
    updater.verdict = "signature";
    const refused = await c.update(image);
    expect([refused.status, JSON.parse(refused.text)]).toEqual([200, { status: "signature", detail: "a signature that does not verify with the owner's key" }]);
  });

  it("refuses an upload without a session or with a MAC over another length, before any of it reaches the updater", async () => {
    const t = joined();
    const updater = new FakeUpdater();
    (t.plug.context as { updater?: FakeUpdater }).updater = updater;
    const c = await loggedIn(t);
    const path = c.next("update", utf8(String(image.length - 1)));
    expect((await sender(t.http)(path, image)).status).toBe(403);
    const stranger = new OwnerClient(sender(t.http));
    stranger.session = c.session;
    stranger.key = new Uint8Array(32);
    stranger.seq = 100;
    expect((await stranger.update(image)).status).toBe(403);
    expect(updater.received.length).toBe(0);
    expect(updater.finished).toBe(0);
  });

  it("cancels the receiver when the connection breaks; says why when the plug cannot take an update", async () => {
    const t = joined();
    const updater = new FakeUpdater();
    (t.plug.context as { updater?: FakeUpdater }).updater = updater;
    const c = await loggedIn(t);
    const conn = t.http.connect();
    conn.handler.data(post(c.next("update", utf8(String(image.length))), image).subarray(0, 1000));
    conn.handler.end();
    expect(updater.cancelled).toBe(1);
    expect(updater.finished).toBe(0);
    updater.refusal = "an update is being confirmed";
    const busy = await c.update(image);
    expect([busy.status, JSON.parse(busy.text)]).toEqual([409, { status: "refused", detail: "an update is being confirmed" }]);
    (t.plug.context as { updater?: FakeUpdater }).updater = undefined;
    expect(JSON.parse((await c.update(image)).text).detail).toBe("this plug cannot be updated over the network");
  });
});

describe("the recent log lines", () => {
  it("keep the newest whole lines within their bytes, each cut at a character boundary to half of them", () => {
    const passed: string[] = [];
    const ring = new LogRing(64, (l) => passed.push(l));
    for (let i = 0; i < 20; i++) ring.line(`line ${i}`);
    expect(passed.length).toBe(20);
    expect(ring.text()).toBe(Array.from({ length: 8 }, (_, i) => `line ${12 + i}\n`).join(""));
    ring.line("é".repeat(40));
    const text = ring.text();
    expect(text.endsWith(`${"é".repeat(15)}\n`)).toBe(true); // 31 bytes at most: 15 two-byte characters
    expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(64);
  });

  it("never hold the setup network's passphrase (it goes around the limiter)", async () => {
    const wifi = new FakeWifi();
    wifi.forget();
    const t = testPlug({}, { wifi, crypto: nodeCrypto });
    const line = t.logs.find((l) => l.includes("WPA2 passphrase: "))!;
    const passphrase = line.slice(line.indexOf("WPA2 passphrase: ") + 17);
    expect(passphrase.length).toBeGreaterThan(8);
    t.plug.context.onboarding.received({ ssid: "HomeNetwork", password: "hunter2hunter2", keyType: 3 });
    t.timers.advance(60_000);
    expect(t.plug.context.onboarding.state).toBe("joined");
    new OwnerKeys(t).store();
    const c = await loggedIn(t);
    const log = JSON.parse((await c.status()).text).log as string;
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(passphrase);
  });
});

describe("the owner's page on KLAP's listener (a device's port 80 in the KLAP modes)", () => {
  function sharing(mode: "secure" | "both", ownerPage?: boolean) {
    const t = testPlug({}, { crypto: nodeCrypto });
    t.plug.stop();
    const listener = new FakeListener();
    const ports: PlugPorts = {
      relay: { set() {} }, led: { set() {} }, button: { listen() {} }, clock: t.clock, timers: t.timers, store: t.store, wifi: new FakeWifi(),
      tcp: new FakeListener(), udp: new FakeDatagrams(), http: listener, dns: new FakeDatagrams(), random: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 256)),
      restart: { restart() {} }, log() {}, crypto: nodeCrypto, klap: listener, discovery: new FakeDatagrams(),
    };
    const plug = createPlug(ports, { mode, ownerPage });
    plug.start();
    return { plug, listener, t };
  }

  for (const mode of ["secure", "both"] as const) {
    it(`${mode}: KLAP's handshake and the owner's page are both answered on the one listener`, async () => {
      const { plug, listener, t } = sharing(mode, true);
      expect(plug.context.onboarding.state).toBe("joined");
      new OwnerKeys({ ...t, plug } as TestPlug).store();
      const hs1 = await exchange(listener, [post("/app/handshake1", new Uint8Array(16), { Host: HOST })]);
      expect(hs1.status).toBe(200);
      expect(hs1.head).toMatch(/Set-Cookie: TP_SESSIONID=[0-9a-f]{32};TIMEOUT=86400/);
      // the request line in pieces: the path is known only after a few bytes
      const page = await exchange(listener, ["GE", "T /", ` HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`]);
      expect(page.body).toBe(OWNER_PAGE.join(""));
      const c = new OwnerClient(sender(listener));
      expect(await c.login(USER, PASSWORD)).toBe(200);
      const on = await c.kasa({ system: { set_relay_state: { state: 1 } } });
      expect(JSON.parse(on.text)).toEqual({ system: { set_relay_state: { err_code: 0 } } });
      expect(plug.context.device.relay).toBe(true);
      // KLAP still refuses what is not its own when the page is off
      const off = sharing(mode, false);
      expect((await exchange(off.listener, [`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`])).status).toBe(404);
    });
  }
});
