// In-memory ports for driving the core without a network: a store that can be told to fail, a clock
// and timers that move only when the test says so, a scripted radio.

import type { MeterDriver } from "../../src/core/energy/meter/meter.js";
import { createPlug, type Plug, type PlugOptions } from "../../src/core/plug.js";
import { MapStore } from "../xs/entry.js";
import { answerText } from "./wire.js";
import { utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import type { RequestContext } from "../../src/core/protocol/dispatcher.js";
import type {
  ClockPort, CryptoPort, DatagramPort, SavedNetwork, StreamHandler, StreamSocket, TcpListenerPort, TimerHandle, TimerPort, TimerTarget, UpdatePort, WifiCredentials, WifiEvent,
  WifiNetwork, WifiPort,
} from "../../src/ports/ports.js";

/** The bytes a setting takes in an ESP8266's Preference sector: domain "plug", key, value, 5 bytes of overhead, rounded up to 4. */
export function preferenceRecordBytes(key: string, value: string): number {
  return Math.ceil(("plug".length + 1 + key.length + 1 + new TextEncoder().encode(value).length + 5) / 4) * 4;
}

/** The XS check's Map store (Preference limits), which can also be told to fail and counts writes. */
export class MemoryStore extends MapStore {
  writes = 0;
  failWrites = false;
  override write(key: string, value: string) {
    if (this.failWrites || !super.write(key, value)) return false;
    this.writes++;
    return true;
  }
}

export class FakeClock implements ClockPort {
  constructor(public wall = Date.UTC(2024, 0, 15, 12, 0, 0), public mono = 1000, public isSynced = true) {}
  now() {
    return this.wall;
  }
  monotonic() {
    return this.mono;
  }
  synced() {
    return this.isSynced;
  }
  advance(ms: number) {
    this.wall += ms;
    this.mono += ms;
  }
}

interface Pending {
  at: number;
  every: number;
  callback: (() => void) | TimerTarget;
}

/** Timers on the fake clock: `advance` runs whatever falls due, in order. */
export class FakeTimers implements TimerPort {
  private readonly pending = new Set<Pending>();
  constructor(private readonly clock: FakeClock) {}
  after(ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    const p = { at: this.clock.mono + ms, every: 0, callback };
    this.pending.add(p);
    return p;
  }
  every(ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    const p = { at: this.clock.mono + ms, every: ms, callback };
    this.pending.add(p);
    return p;
  }
  cancel(handle: TimerHandle) {
    this.pending.delete(handle as Pending);
  }
  get count() {
    return this.pending.size;
  }
  advance(ms: number) {
    const end = this.clock.mono + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending) if (p.at <= end && (next === undefined || p.at < next.at)) next = p;
      if (next === undefined) break;
      this.clock.advance(next.at - this.clock.mono);
      if (next.every > 0) next.at += next.every;
      else this.pending.delete(next);
      if (typeof next.callback === "function") next.callback();
      else next.callback.fired(next);
    }
    this.clock.advance(end - this.clock.mono);
  }
}

/**
 * A scripted radio. A join answers as `onJoin` says (by default: connected at once); `emit` sends any
 * event. Starts provisioned on "HomeNetwork" unless told otherwise.
 */
export class FakeWifi implements WifiPort {
  /** Every join: the credentials tried, or "saved" for a rejoin of the saved network. */
  attempts: (WifiCredentials | "saved")[] = [];
  savedNetwork: SavedNetwork | undefined = { ssid: "HomeNetwork", keyType: 3 };
  savedPassword = "hunter2hunter2";
  accessPoint: { ssid: string; passphrase: string } | null = null;
  accessPointOpens = 0;
  disconnects = 0;
  signal = 0;
  failSave = false;
  onJoin: (c: WifiCredentials | undefined) => [WifiEvent, string?] | undefined = () => ["connected"];
  networks: WifiNetwork[] = [
    { ssid: "HomeNetwork", keyType: 3, rssi: -40 },
    { ssid: "", keyType: 3, rssi: -60 },
    { ssid: "Open", keyType: 0, rssi: -70 },
  ];
  scanSilently = false;
  private listener: (event: WifiEvent, detail?: string) => void = () => {};
  constructor(public macBytes = new Uint8Array([0x50, 0xc7, 0xbf, 0x5b, 0x57, 0x7e])) {}
  /** Credentials tried with a password (not rejoins). */
  get joined(): WifiCredentials[] {
    return this.attempts.filter((a): a is WifiCredentials => a !== "saved");
  }
  mac() {
    return this.macBytes;
  }
  listen(l: (event: WifiEvent, detail?: string) => void) {
    this.listener = l;
  }
  emit(event: WifiEvent, detail?: string) {
    if (event === "connected") this.signal = -55;
    if (event === "lost" || event === "failed") this.signal = 0;
    this.listener(event, detail);
  }
  scan(done: (n: WifiNetwork[]) => void) {
    if (!this.scanSilently) done(this.networks);
  }
  rssi() {
    return this.signal;
  }
  join(c?: WifiCredentials) {
    this.attempts.push(c ?? "saved");
    const outcome = this.onJoin(c);
    if (outcome !== undefined) this.emit(outcome[0], outcome[1]);
  }
  disconnect() {
    this.disconnects++;
    this.signal = 0;
  }
  save(c: WifiCredentials) {
    if (this.failSave) return false;
    this.savedNetwork = { ssid: c.ssid, keyType: c.keyType };
    this.savedPassword = c.password;
    return true;
  }
  saved() {
    return this.savedNetwork;
  }
  forget() {
    this.savedNetwork = undefined;
    this.savedPassword = "";
    this.signal = 0;
  }
  openAccessPoint(ssid: string, passphrase: string) {
    this.accessPoint = { ssid, passphrase };
    this.accessPointOpens++;
  }
  closeAccessPoint() {
    this.accessPoint = null;
  }
  accessPointAddress() {
    return "192.168.4.1";
  }
  /** As a device answers: a peer on the access point's subnet (192.168.4.x) while it is up. */
  accessPointClient(address: string) {
    return this.accessPoint !== null && address.startsWith("192.168.4.");
  }
}

/** The address a test client has on the home network, and on the setup network (FakeWifi.accessPointClient). */
export const LAN_CLIENT = "192.168.1.20";
export const SETUP_CLIENT = "192.168.4.2";

/**
 * A listener the test drives: `connect()` plays a client (from `from`, by default the listener's
 * usual client: the home network's for the Kasa port, the setup network's for the page); `listening`
 * says whether the core listens.
 */
export class FakeListener implements TcpListenerPort {
  /** The core's accept; a test calling it without an address is the listener's usual client. */
  accept: ((socket: StreamSocket, address?: string) => StreamHandler) | null = null;
  constructor(readonly defaultClient = LAN_CLIENT) {}
  get listening() {
    return this.accept !== null;
  }
  listen(accept: (socket: StreamSocket, address: string) => StreamHandler) {
    this.accept = (socket, address = this.defaultClient) => accept(socket, address);
  }
  close() {
    this.accept = null;
  }
  /**
   * A client connection: what the core writes is collected as text (all of it is read at once); `closed` once it closed.
   * With `room`, the socket's send buffer holds that many bytes: `overRoom` says whether the core ever wrote more than
   * it had room for (which an adapter then queues as copies in the heap), and `take()` plays the client reading it all.
   */
  connect(from = this.defaultClient, room = Infinity) {
    if (this.accept === null) throw new Error("not listening");
    const conn = {
      text: "", closed: false, handler: null as unknown as StreamHandler, room, overRoom: false, writes: 0,
      take() {
        conn.room = room;
        conn.handler.writable?.();
      },
    };
    const decoder = new TextDecoder();
    conn.handler = this.accept({
      write: (bytes) => {
        if (bytes.length > conn.room) conn.overRoom = true;
        conn.room -= bytes.length;
        conn.writes++;
        conn.text += decoder.decode(bytes, { stream: true });
      },
      unsent: () => 0,
      room: () => Math.max(0, conn.room),
      close: () => {
        conn.closed = true;
      },
      abort: () => {
        conn.closed = true;
      },
      peer: () => from,
    }, from);
    return conn;
  }
}

/** A datagram port the test drives: `receive` plays a client, `sent` holds what the core sent back. */
export class FakeDatagrams implements DatagramPort {
  private receiver: ((bytes: Uint8Array, address: string, port: number) => void) | null = null;
  readonly sent: { bytes: Uint8Array; address: string; port: number }[] = [];
  listen(receive: (bytes: Uint8Array, address: string, port: number) => void) {
    this.receiver = receive;
  }
  send(bytes: Uint8Array, address: string, port: number) {
    this.sent.push({ bytes, address, port });
  }
  close() {
    this.receiver = null;
  }
  receive(bytes: Uint8Array, address = LAN_CLIENT, port = 50000) {
    this.receiver?.(bytes, address, port);
  }
}

const nullUdp: DatagramPort = { listen() {}, send() {}, close() {} };

export interface TestPlug {
  plug: Plug;
  store: MemoryStore;
  clock: FakeClock;
  timers: FakeTimers;
  wifi: FakeWifi;
  relay: boolean[];
  /** Every relay change with the wall-clock instant it happened (UTC ms). */
  switches: { at: number; on: boolean }[];
  led: boolean[];
  http: FakeListener;
  /** The Kasa port, TCP and UDP. */
  kasa: FakeListener;
  udp: FakeDatagrams;
  /** KLAP's listener and discovery's port (UDP 20002), given to every plug (used in the secure and both modes). */
  klap: FakeListener;
  discovery: FakeDatagrams;
  /** The button pin's edges (true: pressed), as the adapter would report them. */
  button(pressed: boolean): void;
  /** Someone at the plug opens the presence lock for one command: the button held 2.5 s and let go (a 2-5 s hold). */
  unlock(): void;
  restarts: number;
  logs: string[];
  /**
   * Sends one request object (or raw text) and returns the parsed answer as the core writes it; runs
   * after-reply effects. As from the home network, or (`from` "setup") over TCP from a client of the
   * setup network while it is up, as the Kasa server would say it (RequestContext.setupClient).
   */
  ask(request: unknown, from?: "lan" | "setup"): Promise<any>;
  /** The same plug booted again on the same store (a restart: settings changes still waiting are written first). */
  reboot(options?: PlugOptions): TestPlug;
}

/** What testPlug may share with a reboot; `meter` makes the plug's meter chip (a new one at each boot, as a restart does). */
export interface Shared {
  store?: MemoryStore;
  clock?: FakeClock;
  wifi?: FakeWifi;
  meter?: (timers: FakeTimers, clock: FakeClock) => MeterDriver;
  /** The crypto port, for the secure and both modes (src/host/crypto.ts's nodeCrypto: not imported here, so that XS can bundle this file). */
  crypto?: CryptoPort;
  /** The other firmware slot (host-tests/support/update.ts's RecordingSlot), for the update tests. */
  update?: UpdatePort;
}

export function testPlug(options: PlugOptions = {}, shared?: Shared): TestPlug {
  const store = shared?.store ?? new MemoryStore();
  const clock = shared?.clock ?? new FakeClock();
  const wifi = shared?.wifi ?? new FakeWifi();
  const timers = new FakeTimers(clock);
  let draws = 0;
  const t: TestPlug = {
    store, clock, timers, wifi,
    relay: [], switches: [], led: [], restarts: 0, logs: [], http: new FakeListener(SETUP_CLIENT), kasa: new FakeListener(), udp: new FakeDatagrams(), button: () => {},
    klap: new FakeListener(), discovery: new FakeDatagrams(),
    plug: undefined as unknown as Plug,
    unlock() {
      t.button(true);
      timers.advance(2500);
      t.button(false);
      timers.advance(100);
    },
    async ask(request: unknown, from: "lan" | "setup" = "lan") {
      const effects: (() => void)[] = [];
      const setupClient = from === "setup" && t.plug.context.onboarding.clientSign(SETUP_CLIENT);
      const context: RequestContext = { afterReply: (e) => effects.push(e), setupClient, client: from === "setup" ? SETUP_CLIENT : LAN_CLIENT };
      const text = typeof request === "string" ? request : JSON.stringify(request);
      const answer = answerText(await t.plug.dispatcher.handle(utf8Encode(text), context));
      for (const e of effects) e();
      return JSON.parse(answer);
    },
    reboot(next: PlugOptions = options) {
      // settings changes that wait for their write delay (settings.ts) reach flash first, as every
      // change did at once before writes were deferred; a power cut is testPlug(options, shared)
      t.plug.context.settings.flush();
      return testPlug(next, { store, clock, wifi, meter: shared?.meter, crypto: shared?.crypto, update: shared?.update });
    },
  };
  t.plug = createPlug(
    {
      relay: {
        set: (on) => {
          t.relay.push(on);
          t.switches.push({ at: clock.now(), on });
        },
      },
      led: { set: (on) => t.led.push(on) },
      button: { listen: (l) => (t.button = l) },
      clock,
      timers,
      store,
      wifi,
      tcp: t.kasa,
      udp: t.udp,
      http: t.http,
      dns: nullUdp,
      // a fixed sequence, different on every call (rule ids must differ)
      random: (n) => new Uint8Array(n).map((_, i) => (i * 37 + 11 + 101 * ++draws) & 255),
      restart: { restart: () => t.restarts++ },
      log: (line) => t.logs.push(line),
      meter: shared?.meter?.(timers, clock),
      crypto: shared?.crypto,
      update: shared?.update,
      klap: t.klap,
      discovery: t.discovery,
    },
    options,
  );
  t.plug.start();
  return t;
}
