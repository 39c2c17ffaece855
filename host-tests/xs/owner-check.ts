// The owner's page's scenario for the XS engine check (host-tests/owner-page-xs.test.ts): a legacy
// plug with the crypto port, deterministic in every port, and a client of its own (the page's
// protocol with the same crypto port): the page, a log-in, a MAC'd Kasa request, the status, and
// refusals. Runs the same on Node and, bundled, in XS (owner-entry.ts): plain ECMAScript only.

import { createPlug } from "../../src/core/plug.js";
import { DEVICE_LIMITS } from "../../src/core/limits.js";
import { utf8Decode, utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import type {
  ClockPort, CryptoPort, DatagramPort, KeyValuePort, StreamHandler, StreamSocket, TcpListenerPort, TimerHandle, TimerPort, TimerTarget, WifiEvent, WifiPort,
} from "../../src/ports/ports.js";

const HOST = "192.168.1.50";
const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";

class Store implements KeyValuePort {
  private readonly values = new Map<string, string>();
  read(key: string) {
    return this.values.get(key);
  }
  write(key: string, value: string) {
    this.values.set(key, value);
    return true;
  }
  remove(key: string) {
    this.values.delete(key);
  }
  keys() {
    return [...this.values.keys()];
  }
}

class Clock implements ClockPort {
  mono = 1000;
  now() {
    return 1717243200000;
  }
  monotonic() {
    return this.mono;
  }
  synced() {
    return true;
  }
}

class Timers implements TimerPort {
  private next = 1;
  after(_ms: number, _callback: (() => void) | TimerTarget): TimerHandle {
    return this.next++;
  }
  every(ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    return this.after(ms, callback);
  }
  cancel() {}
}

class Wifi implements WifiPort {
  private listener: (event: WifiEvent) => void = () => {};
  mac() {
    return new Uint8Array([0x50, 0xc7, 0xbf, 0x5b, 0x57, 0x7e]);
  }
  listen(l: (event: WifiEvent) => void) {
    this.listener = l;
  }
  scan() {}
  rssi() {
    return -48;
  }
  join() {
    this.listener("connected");
  }
  disconnect() {}
  save() {
    return true;
  }
  saved() {
    return { ssid: "HomeNetwork", keyType: 3 as const };
  }
  forget() {}
  openAccessPoint() {}
  closeAccessPoint() {}
  accessPointAddress() {
    return "192.168.4.1";
  }
  accessPointClient() {
    return false;
  }
}

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

/** The scenario (deterministic: its random port is a fixed sequence). */
export function ownerRun(crypto: CryptoPort): OwnerRun {
  let draws = 0;
  const listener = new Listener();
  let relay = false;
  const plug = createPlug(
    {
      relay: { set: (on) => void (relay = on) }, led: { set() {} }, button: { listen() {} }, clock: new Clock(), timers: new Timers(), store: new Store(),
      wifi: new Wifi(), tcp: { listen() {}, close() {} }, udp: none, http: listener, dns: none,
      random: (n) => new Uint8Array(n).map((_, i) => (i * 37 + 11 + 101 * ++draws) & 255), restart: { restart() {} }, log() {}, crypto,
    },
    { limits: DEVICE_LIMITS },
  );
  plug.start();
  const authHash = crypto.md5(crypto.md5(utf8Encode(USER)), crypto.md5(utf8Encode(PASSWORD)));
  plug.context.settings.put("owner_hash", hex(authHash));
  const page = parts(listener.exchange(utf8Encode(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)));

  const logIn = (password: string) => {
    const a = crypto.md5(crypto.md5(utf8Encode(USER)), crypto.md5(utf8Encode(password)));
    const c = new Uint8Array(16).map((_, i) => i * 3 + 1);
    const hello = parts(listener.exchange(post("/owner/hello", utf8Encode(hex(c)))));
    const j = JSON.parse(hello.body) as { nonce: string; session: string };
    const n = unhex(j.nonce);
    const login = parts(listener.exchange(post("/owner/login", utf8Encode(j.session + hex(crypto.sha256(c, n, a))))));
    return { hello: hello.status, login: login.status, session: j.session, key: crypto.sha256(utf8Encode("owner"), n, c, a) };
  };
  const s = logIn(PASSWORD);
  const path = (route: string, seq: number, body: Uint8Array) =>
    `/owner/${route}?s=${s.session}&q=${seq}&m=${hex(crypto.sha256(s.key, utf8Encode(route), new Uint8Array([0, 0, 0, seq]), body))}`;
  const on = utf8Encode(JSON.stringify({ system: { set_relay_state: { state: 1 } } }));
  const relayAnswer = parts(listener.exchange(post(path("kasa", 1, on), on))).body;
  const empty = new Uint8Array(0);
  const status = parts(listener.exchange(post(path("status", 2, empty), empty))).body;
  const replay = parts(listener.exchange(post(path("kasa", 1, on), on))).status;
  const crossSite = parts(listener.exchange(post(path("kasa", 3, on), on, "http://evil.example"))).status;
  const wrongPassword = logIn("not-the-password-1").login;
  plug.stop();
  return { page: { status: page.status, bytes: page.body.length }, hello: s.hello, login: s.login, relayAnswer, relay, status, replay, crossSite, wrongPassword };
}
