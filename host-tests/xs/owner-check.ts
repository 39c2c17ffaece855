// The owner's page's scenario for the XS engine check (host-tests/owner-page-xs.test.ts): a legacy
// plug with the crypto port, deterministic in every port, and a client of its own (the page's
// protocol with the same crypto port): the page, a log-in, a MAC'd Kasa request, the status, and
// refusals. Runs the same on Node and, bundled, in XS (owner-entry.ts): plain ECMAScript only.

import { createPlug } from "../../src/core/plug.js";
import { DEVICE_LIMITS } from "../../src/core/limits.js";
import { utf8Decode, utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import type { CryptoPort, DatagramPort, StreamHandler, StreamSocket, TcpListenerPort } from "../../src/ports/ports.js";
// (the XS check's deterministic ports; importing entry.ts also installs its driver's globals, which
// owner-entry.ts's serveDriver, run after its imports, replaces)
import { FixedClock, FixedWifi, MapStore, QueuedTimers } from "./entry.js";

const HOST = "192.168.1.50";
const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";

class Listener implements TcpListenerPort {
  accept: ((socket: StreamSocket, address: string) => StreamHandler) | null = null;
  listen(accept: (socket: StreamSocket, address: string) => StreamHandler) {
    this.accept = accept;
  }
  close() {
    this.accept = null;
  }
  /** One exchange: the request's bytes in, the answer's text (a socket taking 100 bytes at a time). */
  exchange(request: Uint8Array): string {
    let text = "";
    let room = 100;
    let closed = false;
    const handler = this.accept!(
      {
        write(bytes) {
          room -= bytes.length;
          text += utf8Decode(bytes);
        },
        unsent: () => 0,
        room: () => (room > 0 ? room : 0),
        close() {
          closed = true;
        },
        abort() {
          closed = true;
        },
        peer: () => "192.168.1.20",
      },
      "192.168.1.20",
    );
    handler.data(request);
    for (let i = 0; i < 1000 && !closed; i++) {
      room = 100;
      handler.writable?.();
    }
    return text;
  }
}

const none: DatagramPort = { listen() {}, send() {}, close() {} };
const HEX = "0123456789abcdef";
const hex = (b: Uint8Array) => {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i] >> 4] + HEX[b[i] & 15];
  return s;
};
const unhex = (h: string) => {
  const b = new Uint8Array(h.length >> 1);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
  return b;
};

function post(path: string, body: Uint8Array, origin = `http://${HOST}`): Uint8Array {
  const head = utf8Encode(`POST ${path} HTTP/1.1\r\nHost: ${HOST}\r\nOrigin: ${origin}\r\nContent-Length: ${body.length}\r\n\r\n`);
  const all = new Uint8Array(head.length + body.length);
  all.set(head, 0);
  all.set(body, head.length);
  return all;
}

/** Status line and body of an answer. */
function parts(text: string): { status: number; body: string } {
  return { status: Number(text.slice(9, 12)), body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

export interface OwnerRun {
  page: { status: number; bytes: number };
  hello: number;
  login: number;
  relayAnswer: string;
  relay: boolean;
  status: string;
  replay: number;
  crossSite: number;
  wrongPassword: number;
}

/**
 * A legacy plug with the crypto port (its random port a fixed sequence), the owner's page on or off,
 * and the owner's steps on it: each returns the answer's status and body.
 */
export class OwnerScenario {
  readonly listener = new Listener();
  relay = false;
  private readonly plug;
  private session = "";
  private key: Uint8Array = new Uint8Array(0);
  private seq = 0;

  constructor(private readonly crypto: CryptoPort, ownerPage = true) {
    let draws = 0;
    this.plug = createPlug(
      {
        relay: { set: (on) => void (this.relay = on) }, led: { set() {} }, button: { listen() {} }, clock: new FixedClock(), timers: new QueuedTimers(), store: new MapStore(),
        wifi: new FixedWifi(), tcp: { listen() {}, close() {} }, udp: none, http: this.listener, dns: none,
        random: (n) => new Uint8Array(n).map((_, i) => (i * 37 + 11 + 101 * ++draws) & 255), restart: { restart() {} }, log() {}, crypto,
      },
      { limits: DEVICE_LIMITS, ownerPage },
    );
    this.plug.start();
    this.plug.context.settings.put("owner_hash", hex(this.authHash(PASSWORD)));
  }

  private authHash(password: string): Uint8Array {
    const c = this.crypto;
    return c.md5(c.md5(utf8Encode(USER)), c.md5(utf8Encode(password)));
  }

  page(): { status: number; body: string } {
    return parts(this.listener.exchange(utf8Encode(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)));
  }

  /** hello, then login: their statuses (the session kept when it worked). */
  logIn(password = PASSWORD): { hello: number; login: number } {
    const crypto = this.crypto;
    const a = this.authHash(password);
    const c = new Uint8Array(16).map((_, i) => i * 3 + 1);
    const hello = parts(this.listener.exchange(post("/owner/hello", utf8Encode(hex(c)))));
    const j = JSON.parse(hello.body) as { nonce: string; session: string };
    const n = unhex(j.nonce);
    const login = parts(this.listener.exchange(post("/owner/login", utf8Encode(j.session + hex(crypto.sha256(c, n, a))))));
    if (login.status === 200) {
      this.session = j.session;
      this.key = crypto.sha256(utf8Encode("owner"), n, c, a);
      this.seq = 0;
    }
    return { hello: hello.status, login: login.status };
  }

  /** A MAC'd request on `route` (seq: the next one unless given), as from `origin`. */
  request(route: string, body: Uint8Array, seq = ++this.seq, origin = `http://${HOST}`): { status: number; body: string } {
    const mac = hex(this.crypto.sha256(this.key, utf8Encode(route), new Uint8Array([seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255]), body));
    return parts(this.listener.exchange(post(`/owner/${route}?s=${this.session}&q=${seq}&m=${mac}`, body, origin)));
  }

  stop(): void {
    this.plug.stop();
  }
}

const RELAY_ON = JSON.stringify({ system: { set_relay_state: { state: 1 } } });

/** The whole scenario: the page, a log-in, the relay switched, the status, and refusals. */
export function ownerRun(crypto: CryptoPort): OwnerRun {
  const s = new OwnerScenario(crypto);
  const page = s.page();
  const login = s.logIn();
  const on = utf8Encode(RELAY_ON);
  const relayAnswer = s.request("kasa", on).body;
  const status = s.request("status", new Uint8Array(0)).body;
  const replay = s.request("kasa", on, 1).status;
  const crossSite = s.request("kasa", on, 3, "http://evil.example").status;
  const wrongPassword = new OwnerScenario(crypto).logIn("not-the-password-1").login;
  s.stop();
  return { page: { status: page.status, bytes: page.body.length }, hello: login.hello, login: login.login, relayAnswer, relay: s.relay, status, replay, crossSite, wrongPassword };
}
