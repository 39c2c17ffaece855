// KLAP on HTTP (src/core/klap/klap-server.ts) on a real loopback listener with Node's crypto and a
// real plug's dispatcher (fake clock and timers), driven by the project's own KLAP client
// (src/host/klap-client.ts): handshakes, requests on one keep-alive connection, every refusal a client
// can meet (403 so that it redoes the handshake), malformed HTTP, the handshake budget, the session
// bound, and random bytes at the listener.

import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { KlapServer } from "../src/core/klap/klap-server.js";
import { KlapSession } from "../src/core/klap/klap.js";
import { DEVICE_LIMITS, type Limits } from "../src/core/limits.js";
import type { Dispatcher, RequestContext } from "../src/core/protocol/dispatcher.js";
import { KasaServer } from "../src/core/protocol/server.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { NodeTcpListener } from "../src/host/net.js";
import type { StreamHandler, StreamSocket, TcpListenerPort } from "../src/ports/ports.js";
import { FakeListener, testPlug, type TestPlug } from "./support/fakes.js";
import { fuzzed } from "./support/fuzz.js";
import {
  authHashOf, ClientSession, handshake1, handshake2, handshake2Body, HttpConnection, klapConnect, KlapError, type KlapClient,
} from "../src/host/klap-client.js";

const USER = "owner@example.com";
const PASSWORD = "correct horse battery staple";
const HOST = "127.0.0.1";
const SYSINFO = { system: { get_sysinfo: {} } };
const ON = { system: { set_relay_state: { state: 1 } } };
const OFF = { system: { set_relay_state: { state: 0 } } };

interface Rig {
  t: TestPlug;
  klap: KlapServer;
  listener: NodeTcpListener;
  port: number;
  logs: string[];
  keys: { hash: Uint8Array | undefined; authHash(): Uint8Array | undefined };
  connect(user?: string, password?: string): Promise<KlapClient>;
  conn(): Promise<HttpConnection>;
}

const rigs: Rig[] = [];
const clients: { close(): void }[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const r of rigs.splice(0)) {
    r.klap.stop();
    r.listener.unbind();
  }
});

async function rig(limits: Partial<Limits> = {}, credentials: [string, string] | null = [USER, PASSWORD]): Promise<Rig> {
  const t = testPlug();
  t.relay.length = 0; // (the relay set off at boot)
  const all: Limits = { ...DEVICE_LIMITS, klapConnections: 32, ...limits };
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const now = () => t.clock.monotonic();
  const kasa = new KasaServer(t.plug.dispatcher, { log, timers: t.timers, now }, all);
  const keys = { hash: credentials === null ? undefined : new Uint8Array(authHashOf(...credentials)), authHash() { return this.hash; } };
  const klap = new KlapServer(kasa, { crypto: nodeCrypto, random: (n) => new Uint8Array(randomBytes(n)), log, timers: t.timers, now }, keys, all);
  const listener = await NodeTcpListener.open(0, HOST);
  klap.start(listener);
  const r: Rig = {
    t, klap, listener, port: listener.port, logs, keys,
    async connect(user = USER, password = PASSWORD) {
      const c = await klapConnect(HOST, listener.port, user, password);
      clients.push(c);
      return c;
    },
    async conn() {
      const c = await HttpConnection.open(HOST, listener.port);
      clients.push(c);
      return c;
    },
  };
  rigs.push(r);
  return r;
}

/** A handshake as python-kasa makes it, on its own connection, with the pieces a test needs. */
async function handshake(r: Rig, authHash = authHashOf(USER, PASSWORD)) {
  const conn = await r.conn();
  const localSeed = randomBytes(16);
  const h1 = await handshake1(conn, localSeed);
  const h2 = await handshake2(conn, h1.cookie, handshake2Body(h1.remoteSeed, authHash));
  return { conn, localSeed, h1, h2, session: new ClientSession(localSeed, h1.remoteSeed, authHash) };
}

describe("KLAP on HTTP, as python-kasa's KlapTransport speaks it", () => {
  it("handshakes, then answers get_sysinfo and switches the relay on one keep-alive connection", async () => {
    const r = await rig();
    const c = await r.connect();
    expect(c.cookie).toMatch(/^[0-9a-f]{32}$/);
    expect(c.timeout).toBe("86400");
    const info = await c.request(SYSINFO);
    expect(info.system.get_sysinfo.err_code).toBe(0);
    expect(info.system.get_sysinfo.relay_state).toBe(0);
    expect(await c.request(ON)).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    expect(r.t.relay).toEqual([true]);
    expect((await c.request(SYSINFO)).system.get_sysinfo.relay_state).toBe(1);
    expect(c.conn.ended).toBe(false); // three requests, one connection
    expect(r.klap.connections.size).toBe(1);
  });

  it("writes the handshake1 answer python-kasa checks: 48 bytes, the Set-Cookie aiohttp reads, no Connection: close", async () => {
    const r = await rig();
    const conn = await r.conn();
    const localSeed = randomBytes(16);
    const h1 = await handshake1(conn, localSeed);
    expect(h1.answer.status).toBe(200);
    expect(h1.answer.headers.get("content-length")).toBe("48");
    expect(h1.answer.headers.get("set-cookie")).toMatch(/^TP_SESSIONID=[0-9a-f]{32};TIMEOUT=86400$/);
    expect(h1.answer.headers.has("connection")).toBe(false);
    expect(h1.serverHash.equals(nodeCrypto.sha256(localSeed, authHashOf(USER, PASSWORD)) as Buffer)).toBe(true);
    const h2 = await handshake2(conn, h1.cookie, handshake2Body(h1.remoteSeed, authHashOf(USER, PASSWORD)));
    expect([h2.status, h2.headers.get("content-length"), h2.body.length]).toEqual([200, "0", 0]);
  });

  it.each([16, 17, 100, 256, 16384])("seals every answer byte for byte as KlapSession.seal does (streamed through a buffer of %i bytes)", async (answerBufferBytes) => {
    const r = await rig({ answerBufferBytes });
    const { conn, localSeed, h1, session } = await handshake(r);
    const plug = new KlapSession(nodeCrypto, localSeed, h1.remoteSeed, authHashOf(USER, PASSWORD), 1 << 20);
    // (aliases of 1 to 17 characters: the sysinfo answer's length takes every value modulo 16)
    const aliases = Array.from({ length: 17 }, (_, i) => [{ system: { set_dev_alias: { alias: "x".repeat(i + 1) } } }, SYSINFO]).flat();
    for (const request of [SYSINFO, ON, { system: { get_sysinfo: null }, time: { get_time: null } }, { nope: {} }, "[1]", ...aliases]) {
      const { body, seq } = session.encrypt(Buffer.from(typeof request === "string" ? request : JSON.stringify(request)));
      const answer = await conn.post(`/app/request?seq=${seq}`, body, { Cookie: `TP_SESSIONID=${h1.cookie}` });
      expect(answer.status).toBe(200);
      const plaintext = session.decrypt(answer.body, seq);
      expect(Buffer.from(plug.seal(plaintext, seq)!).equals(answer.body)).toBe(true);
      JSON.parse(plaintext.toString());
    }
  });

  it("runs a request's effects only after its answer is written", async () => {
    const r = await rig();
    const c = await r.connect();
    expect((await c.request({ system: { reboot: { delay: 1 } } })).system.reboot.err_code).toBe(0);
    r.t.timers.advance(1500);
    expect(r.t.restarts).toBe(1);
  });
});

describe("KLAP on a socket with little room", () => {
  it("writes an answer no faster than the socket takes it, and runs its effects only once all of it is out", () => {
    const t = testPlug();
    const now = () => t.clock.monotonic();
    const log = () => {};
    const ran: number[] = [];
    let conn: ReturnType<FakeListener["connect"]> | undefined;
    // the plug's dispatcher, each request given one more after-reply effect that notes how much was written by then
    const dispatcher = {
      handle(bytes: Uint8Array, context: RequestContext) {
        context.afterReply(() => ran.push(conn!.writes));
        return t.plug.dispatcher.handle(bytes, context);
      },
    } as unknown as Dispatcher;
    const kasa = new KasaServer(dispatcher, { log, timers: t.timers, now }, DEVICE_LIMITS);
    const authHash = authHashOf(USER, PASSWORD);
    const seven = (n: number) => new Uint8Array(n).fill(7); // (the plug's seed and cookie: known to the test)
    const klap = new KlapServer(kasa, { crypto: nodeCrypto, random: seven, log, timers: t.timers, now }, { authHash: () => new Uint8Array(authHash) }, DEVICE_LIMITS);
    const listener = new FakeListener();
    klap.start(listener);
    conn = listener.connect(undefined, 64);
    const localSeed = randomBytes(16);
    const cookie = `TP_SESSIONID=${"07".repeat(16)}`;
    const post = (path: string, body: Uint8Array, headers = "") =>
      conn!.handler.data(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\n${headers}Content-Length: ${body.length}\r\n\r\n`), body]));
    post("/app/handshake1", localSeed);
    while (conn.room <= 0) conn.take();
    post("/app/handshake2", handshake2Body(seven(16), authHash), `Cookie: ${cookie}\r\n`);
    while (conn.room <= 0) conn.take();
    const session = new ClientSession(localSeed, seven(16), authHash);
    const { body, seq } = session.encrypt(Buffer.from(JSON.stringify(SYSINFO)));
    const before = conn.text.length;
    post(`/app/request?seq=${seq}`, body, `Cookie: ${cookie}\r\n`);
    expect(ran).toEqual([]); // 64 bytes out of an answer of about a kilobyte
    let takes = 0;
    for (; ran.length === 0 && takes < 100; takes++) conn.take();
    expect(takes).toBeGreaterThan(10);
    expect(conn.overRoom).toBe(false);
    expect(ran).toEqual([conn.writes]); // the effect ran after the last write
    expect(conn.text.slice(before)).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(conn.closed).toBe(false);
    klap.stop();
  });
});

describe("KLAP answers are never whole in memory", () => {
  it("an answer's ciphertext goes out in pieces of the server's buffer, however much room the socket has", async () => {
    const r = await rig({ answerBufferBytes: 64 });
    // a server on a socket of our own, to see each write
    const sizes: number[] = [];
    const received: Buffer[] = [];
    let accept: ((socket: StreamSocket, address: string) => StreamHandler) | undefined;
    const listener: TcpListenerPort = { listen: (a) => void (accept = a), close() {} };
    const klap = new KlapServer(r.klap.kasa, r.klap.ports, r.keys, r.klap.limits);
    klap.start(listener);
    const socket: StreamSocket = {
      write: (b) => void (sizes.push(b.length), received.push(Buffer.from(b))), unsent: () => 0, room: () => Infinity, close() {}, abort() {},
    };
    const handler = accept!(socket, HOST);
    const localSeed = randomBytes(16);
    const send = (path: string, body: Uint8Array, headers = "") => handler.data(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\n${headers}Content-Length: ${body.length}\r\n\r\n`), body]));
    send("/app/handshake1", localSeed);
    const answer1 = Buffer.concat(received.splice(0));
    const remoteSeed = answer1.subarray(answer1.indexOf("\r\n\r\n") + 4, answer1.indexOf("\r\n\r\n") + 20);
    const cookie = /TP_SESSIONID=([0-9a-f]{32})/.exec(answer1.toString("latin1"))![1];
    const authHash = authHashOf(USER, PASSWORD);
    send("/app/handshake2", handshake2Body(remoteSeed, authHash), `Cookie: TP_SESSIONID=${cookie}\r\n`);
    received.length = 0;
    sizes.length = 0;
    const mine = new ClientSession(localSeed, remoteSeed, authHash);
    const { body, seq } = mine.encrypt(Buffer.from(JSON.stringify(SYSINFO)));
    send(`/app/request?seq=${seq}`, body, `Cookie: TP_SESSIONID=${cookie}\r\n`);
    const all = Buffer.concat(received);
    const bodyAt = all.indexOf("\r\n\r\n") + 4;
    expect(JSON.parse(mine.decrypt(all.subarray(bodyAt), seq).toString()).system.get_sysinfo.err_code).toBe(0);
    expect(all.length - bodyAt).toBeGreaterThan(500);
    // the head, the signature, then pieces of at most the buffer's 64 bytes
    expect(sizes.length).toBeGreaterThan(10);
    expect(sizes.slice(1).filter((n) => n > 64)).toEqual([]);
    klap.stop();
  });
});

describe("KLAP refusals: 403 so that clients redo the handshake, nothing switched", () => {
  it("no credentials set: handshake1 is refused, blank and default credentials included", async () => {
    const r = await rig({}, null);
    for (const [u, p] of [["", ""], ["kasa@tp-link.net", "kasaSetup"], [USER, PASSWORD]]) {
      await expect(r.connect(u, p)).rejects.toMatchObject({ status: 403 });
    }
    expect(r.klap.sessions).toBe(0);
  });

  it("a wrong password: python-kasa's check of handshake1 fails, and a handshake2 with the wrong hash gets 403 and no session", async () => {
    const r = await rig();
    await expect(r.connect(USER, "wrong password")).rejects.toThrow(/authentication/);
    const wrong = await handshake(r, authHashOf(USER, "wrong password"));
    expect(wrong.h2.status).toBe(403);
    expect(wrong.h2.headers.get("connection")).toBe("close");
    // its cookie opens nothing, even with a body sealed under the wrong keys
    const conn = await r.conn();
    const { body, seq } = wrong.session.encrypt(Buffer.from(JSON.stringify(ON)));
    expect((await conn.post(`/app/request?seq=${seq}`, body, { Cookie: `TP_SESSIONID=${wrong.h1.cookie}` })).status).toBe(403);
    expect(r.t.relay).toEqual([]);
    expect(r.logs.some((l) => /handshake2 .* refused/.test(l))).toBe(true);
  });

  it("a handshake2 without the cookie of a pending handshake, or twice, is refused", async () => {
    const r = await rig();
    const conn = await r.conn();
    const localSeed = randomBytes(16);
    const h1 = await handshake1(conn, localSeed);
    const conn2 = await r.conn();
    expect((await handshake2(conn2, undefined, handshake2Body(h1.remoteSeed, authHashOf(USER, PASSWORD)))).status).toBe(403);
    expect((await handshake2(conn, h1.cookie, handshake2Body(h1.remoteSeed, authHashOf(USER, PASSWORD)))).status).toBe(200);
    const conn3 = await r.conn();
    expect((await handshake2(conn3, h1.cookie, handshake2Body(h1.remoteSeed, authHashOf(USER, PASSWORD)))).status).toBe(403);
  });

  it("a replayed and an out-of-order seq get 403 and the relay switches once", async () => {
    const r = await rig();
    const { conn, h1, session } = await handshake(r);
    const cookie = { Cookie: `TP_SESSIONID=${h1.cookie}` };
    const first = session.encrypt(Buffer.from(JSON.stringify(ON)));
    const second = session.encrypt(Buffer.from(JSON.stringify(SYSINFO)));
    expect((await conn.post(`/app/request?seq=${second.seq}`, second.body, cookie)).status).toBe(200);
    const replay = await r.conn();
    expect((await replay.post(`/app/request?seq=${second.seq}`, second.body, cookie)).status).toBe(403);
    const older = await r.conn();
    expect((await older.post(`/app/request?seq=${first.seq}`, first.body, cookie)).status).toBe(403);
    expect(r.t.relay).toEqual([]);
    // a body for a higher seq works, once
    const on = session.encrypt(Buffer.from(JSON.stringify(ON)));
    const c1 = await r.conn();
    expect((await c1.post(`/app/request?seq=${on.seq}`, on.body, cookie)).status).toBe(200);
    const c2 = await r.conn();
    expect((await c2.post(`/app/request?seq=${on.seq}`, on.body, cookie)).status).toBe(403);
    expect(r.t.relay).toEqual([true]);
    // the same body under another seq in the URL: its signature does not hold
    const c3 = await r.conn();
    expect((await c3.post(`/app/request?seq=${on.seq + 5}`, on.body, cookie)).status).toBe(403);
    expect(r.t.relay).toEqual([true]);
  });

  it("an idle session expires (403), and a new handshake works; so does one past its TIMEOUT", async () => {
    const r = await rig();
    const c = await r.connect();
    expect((await c.request(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
    r.t.clock.advance(DEVICE_LIMITS.klapSessionIdleMs);
    c.close();
    const again = await r.conn();
    const { body, seq } = c.session.encrypt(Buffer.from(JSON.stringify(ON)));
    expect((await again.post(`/app/request?seq=${seq}`, body, { Cookie: `TP_SESSIONID=${c.cookie}` })).status).toBe(403);
    expect(r.t.relay).toEqual([]);
    const d = await r.connect();
    expect(await d.request(ON)).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    // used within its idle time, but past its lifetime
    for (let ms = 0; ms < DEVICE_LIMITS.klapSessionSeconds * 1000; ms += DEVICE_LIMITS.klapSessionIdleMs / 2) {
      r.t.clock.advance(DEVICE_LIMITS.klapSessionIdleMs / 2);
      const fresh = await r.conn();
      const next = d.session.encrypt(Buffer.from(JSON.stringify(SYSINFO)));
      const status = (await fresh.post(`/app/request?seq=${next.seq}`, next.body, { Cookie: `TP_SESSIONID=${d.cookie}` })).status;
      fresh.close();
      if (ms + DEVICE_LIMITS.klapSessionIdleMs / 2 < DEVICE_LIMITS.klapSessionSeconds * 1000) expect(status).toBe(200);
      else expect(status).toBe(403);
    }
  });

  it("a handshake not followed by its handshake2 in time is gone", async () => {
    const r = await rig();
    const conn = await r.conn();
    const h1 = await handshake1(conn, randomBytes(16));
    r.t.clock.advance(DEVICE_LIMITS.klapHandshakeMs);
    expect((await handshake2(conn, h1.cookie, handshake2Body(h1.remoteSeed, authHashOf(USER, PASSWORD)))).status).toBe(403);
  });

  it("sessions made before the credentials changed are refused", async () => {
    const r = await rig();
    const c = await r.connect();
    r.keys.hash = new Uint8Array(authHashOf(USER, "a new password"));
    await expect(c.request(ON)).rejects.toMatchObject({ status: 403 });
    r.keys.hash = undefined;
    await expect(r.connect(USER, "a new password")).rejects.toMatchObject({ status: 403 });
    expect(r.t.relay).toEqual([]);
  });

  it("garbage bodies, a missing or malformed cookie: 403, and the session still works after", async () => {
    const r = await rig();
    const c = await r.connect();
    const cookie = { Cookie: `TP_SESSIONID=${c.cookie}` };
    for (const body of [randomBytes(64), randomBytes(48), Buffer.alloc(0), randomBytes(33), randomBytes(16 * 20 + 32)]) {
      const conn = await r.conn();
      expect((await conn.post(`/app/request?seq=${c.session.seq + 1}`, body, cookie)).status).toBe(403);
    }
    const { body, seq } = c.session.encrypt(Buffer.from(JSON.stringify(ON)));
    for (const headers of [{} as Record<string, string>, { Cookie: `TP_SESSIONID=${c.cookie.slice(1)}` }, { Cookie: `TP_SESSIONID=${"0".repeat(32)}` }, { Cookie: "other=1" }]) {
      const conn = await r.conn();
      expect((await conn.post(`/app/request?seq=${seq}`, body, headers)).status).toBe(403);
    }
    expect(r.t.relay).toEqual([]);
    // another cookie before ours is fine (aiohttp sends only ours)
    const conn = await r.conn();
    expect((await conn.post(`/app/request?seq=${seq}`, body, { Cookie: `a=b; TP_SESSIONID=${c.cookie}` })).status).toBe(200);
    expect(r.t.relay).toEqual([true]);
  });
});

describe("KLAP's HTTP parsing: malformed requests get their status and the connection closes", () => {
  async function raw(r: Rig, text: string | Uint8Array) {
    const conn = await r.conn();
    conn.send(text);
    const answer = await conn.read();
    await conn.closed;
    return answer;
  }
  const head = (path: string, headers: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;

  it("unknown paths 404, other methods 405, bad versions 400, no Content-Length 411", async () => {
    const r = await rig();
    expect((await raw(r, head("/", "Content-Length: 0\r\n"))).status).toBe(404);
    expect((await raw(r, head("/app/handshake3", "Content-Length: 16\r\n"))).status).toBe(404);
    expect((await raw(r, head("/app/request", "Content-Length: 0\r\n"))).status).toBe(404);
    const get = await raw(r, "GET /app/handshake1 HTTP/1.1\r\nHost: x\r\n\r\n");
    expect([get.status, get.headers.get("allow"), get.headers.get("connection")]).toEqual([405, "POST", "close"]);
    expect((await raw(r, "POST /app/handshake1 HTTP/2.0\r\nContent-Length: 16\r\n\r\n")).status).toBe(400);
    expect((await raw(r, "POST /app/handshake1\r\n\r\n")).status).toBe(400);
    expect((await raw(r, head("/app/handshake1", ""))).status).toBe(411);
    expect((await raw(r, head("/app/handshake1", "Transfer-Encoding: chunked\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/request?seq=12a", "Content-Length: 48\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/request?seq=", "Content-Length: 48\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/request?seq=99999999999", "Content-Length: 48\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/handshake1", "Content-Length: 1x\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/handshake1", "Content-Length: 16\r\nContent-Length: 16\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/handshake1", "no colon\r\n"))).status).toBe(400);
  });

  it("bodies of the wrong length: 400, over the path's bound: 413, before any of it is read", async () => {
    const r = await rig();
    expect((await raw(r, head("/app/handshake1", "Content-Length: 15\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/handshake1", "Content-Length: 17\r\n"))).status).toBe(413);
    expect((await raw(r, head("/app/handshake2", "Content-Length: 31\r\n"))).status).toBe(400);
    expect((await raw(r, head("/app/handshake2", "Content-Length: 9999999\r\n"))).status).toBe(413);
    const c = await r.connect();
    const tooLong = 32 + DEVICE_LIMITS.maxFrameBytes + 32;
    expect((await raw(r, head("/app/request?seq=1", `Cookie: TP_SESSIONID=${c.cookie}\r\nContent-Length: ${tooLong}\r\n`))).status).toBe(413);
    // without a session the length is not even looked at
    expect((await raw(r, head("/app/request?seq=1", `Content-Length: ${tooLong}\r\n`))).status).toBe(403);
  });

  it("oversized headers and request lines: 431", async () => {
    const r = await rig();
    expect((await raw(r, head("/app/handshake1", `X-Filler: ${"a".repeat(DEVICE_LIMITS.klapHeadBytes)}\r\nContent-Length: 16\r\n`))).status).toBe(431);
    expect((await raw(r, head(`/app/request?seq=1&${"a".repeat(200)}`, "Content-Length: 48\r\n"))).status).toBe(431);
    expect((await raw(r, head("/app/handshake1", `Cookie: ${"a".repeat(200)}\r\nContent-Length: 16\r\n`))).status).toBe(431);
    // a long header we do not read is skipped within the bound
    const conn = await r.conn();
    conn.send(head("/app/handshake1", `X-Filler: ${"a".repeat(300)}\r\nContent-Length: 16\r\n`));
    conn.send(randomBytes(16));
    expect((await conn.read()).status).toBe(200);
  });

  it("HTTP/1.0 and Connection: close are answered, then closed", async () => {
    const r = await rig();
    for (const text of ["POST /app/handshake1 HTTP/1.0\r\nContent-Length: 16\r\n\r\n", head("/app/handshake1", "Connection: close\r\nContent-Length: 16\r\n")]) {
      const conn = await r.conn();
      conn.send(text);
      conn.send(randomBytes(16));
      const answer = await conn.read();
      expect([answer.status, answer.headers.get("connection")]).toEqual([200, "close"]);
      await conn.closed;
    }
  });

  it("a request sent in one-byte pieces is answered", async () => {
    const r = await rig();
    const conn = await r.conn();
    const bytes = Buffer.concat([Buffer.from(head("/app/handshake1", "Content-Length: 16\r\n")), randomBytes(16)]);
    for (const b of bytes) conn.send(Uint8Array.of(b));
    expect((await conn.read()).status).toBe(200);
  });
});

describe("KLAP's bounds", () => {
  it("handshakes from one address beyond its budget get 429 (logged once), and are taken again once it refills", async () => {
    const r = await rig();
    const burst = DEVICE_LIMITS.klapSenderHandshakes;
    for (let i = 0; i < burst; i++) expect((await handshake1(await r.conn(), randomBytes(16))).answer.status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await handshake1(await r.conn(), randomBytes(16))).answer.status).toBe(429);
    expect(r.logs.filter((l) => /handshake from .* refused/.test(l))).toHaveLength(1);
    r.t.clock.advance(60_000 / DEVICE_LIMITS.klapSenderHandshakesPerMinute);
    expect((await handshake1(await r.conn(), randomBytes(16))).answer.status).toBe(200);
    expect(r.logs.some((l) => /3 handshakes refused/.test(l))).toBe(true);
  });

  it("the whole plug's handshakes are bounded too", async () => {
    const r = await rig({ klapSenderHandshakes: 100, klapHandshakes: 4 });
    for (let i = 0; i < 4; i++) expect((await handshake1(await r.conn(), randomBytes(16))).answer.status).toBe(200);
    expect((await handshake1(await r.conn(), randomBytes(16))).answer.status).toBe(429);
  });

  it("at most klapSessions sessions: a new handshake takes the place of the one unused longest", async () => {
    const r = await rig();
    expect(DEVICE_LIMITS.klapSessions).toBe(2);
    const a = await r.connect();
    r.t.clock.advance(1000);
    const b = await r.connect();
    r.t.clock.advance(1000);
    expect((await a.request(SYSINFO)).system.get_sysinfo.err_code).toBe(0); // b is now unused longest
    r.t.clock.advance(1000);
    const c = await r.connect();
    expect(r.klap.sessions).toBe(2);
    await expect(b.request(SYSINFO)).rejects.toMatchObject({ status: 403 });
    expect((await a.request(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
    expect((await c.request(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
  });

  it("connections beyond klapConnections take the place of the one idle longest", async () => {
    const r = await rig({ klapConnections: DEVICE_LIMITS.klapConnections });
    const idle = await r.conn();
    const idle2 = await r.conn();
    await new Promise((resolve) => setTimeout(resolve, 20)); // (both accepted)
    const c = await r.connect();
    expect((await c.request(SYSINFO)).system.get_sysinfo.err_code).toBe(0);
    await idle.closed;
    expect(idle2.ended || idle.ended).toBe(true);
    expect(r.klap.connections.size).toBeLessThanOrEqual(DEVICE_LIMITS.klapConnections);
  });

  it("an answer over klapMaxAnswerBytes gets each method's error instead", async () => {
    const r = await rig({ klapMaxAnswerBytes: 200 });
    const c = await r.connect();
    expect(await c.request({ system: { get_sysinfo: {} }, time: { get_time: {} } })).toEqual({
      system: { get_sysinfo: { err_code: -5, err_msg: "answer over 200 bytes" } },
      time: { get_time: { err_code: -5, err_msg: "answer over 200 bytes" } },
    });
    expect((await c.request({ time: { get_time: {} } })).time.get_time.err_code).toBe(0);
  });

  it("a client that stops mid-request is closed at the frame deadline, an idle one at the idle deadline", async () => {
    const r = await rig();
    const slow = await r.conn();
    slow.send("POST /app/handshake1 HTTP/1.1\r\nContent-Le");
    const idle = await r.conn();
    await new Promise((resolve) => setTimeout(resolve, 20));
    r.t.timers.advance(DEVICE_LIMITS.frameDeadlineMs + 1000);
    await slow.closed;
    expect(idle.ended).toBe(false);
    r.t.timers.advance(DEVICE_LIMITS.idleMs);
    await idle.closed;
    expect(r.klap.connections.size).toBe(0);
  });
});

describe("KLAP fuzz: random bytes at the listener", () => {
  it("never throws, answers at most with a status line, and every connection ends", () => {
    const t = testPlug();
    const now = () => t.clock.monotonic();
    const logs: string[] = [];
    const log = (line: string) => logs.push(line);
    const kasa = new KasaServer(t.plug.dispatcher, { log, timers: t.timers, now }, DEVICE_LIMITS);
    const keys = { authHash: () => new Uint8Array(authHashOf(USER, PASSWORD)) };
    const klap = new KlapServer(kasa, { crypto: nodeCrypto, random: (n) => new Uint8Array(randomBytes(n)), log, timers: t.timers, now }, keys, DEVICE_LIMITS);
    const listener = new FakeListener();
    klap.start(listener);
    const prefixes = ["", "POST /app/handshake1 HTTP/1.1\r\n", "POST /app/request?seq=5 HTTP/1.1\r\nCookie: TP_SESSIONID=", "POST /app/handshake2 HTTP/1.1\r\nContent-Length: 32\r\n\r\n", "POST /app/handshake1 HTTP/1.1\r\nContent-Length: 16\r\n\r\n"];
    // random bytes, and pieces of what the parser looks for
    const pieces = ["\r\n", "\n", "Content-Length: 16\r\n", "Content-Length: 48\r\n", "Content-Length: 99999\r\n", `Cookie: TP_SESSIONID=${"0".repeat(32)}\r\n`, "Connection: close\r\n", "Transfer-Encoding: chunked\r\n", "POST /app/handshake1 HTTP/1.1\r\n", ":", " "];
    const chunkArb = fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(...pieces).map((p) => new Uint8Array(Buffer.from(p, "latin1"))));
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.array(chunkArb, { maxLength: 8 }), fc.boolean(), (prefix, chunks, fin) => {
        const conn = listener.connect();
        conn.handler.data(Buffer.from(prefix, "latin1"));
        for (const chunk of chunks) conn.handler.data(chunk);
        if (fin) {
          conn.handler.end();
          expect(conn.closed).toBe(true); // (every answer here is synchronous: nothing keeps it open)
        }
        t.timers.advance(DEVICE_LIMITS.idleMs + 2000);
        expect(conn.closed).toBe(true);
        expect(conn.text === "" || /^HTTP\/1\.1 \d{3} /.test(conn.text)).toBe(true);
        expect(klap.connections.size).toBe(0);
        expect(klap.sessions).toBeLessThanOrEqual(DEVICE_LIMITS.klapSessions);
      }),
      fuzzed(300),
    );
    klap.stop();
  });
});

// (KlapError is what klapConnect throws: the refusals above match on its status.)
void KlapError;
