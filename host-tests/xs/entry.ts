// The XS engine check's plug: the core with deterministic in-memory ports, answering whole TCP frames.
// The same file runs twice: imported by vitest on Node, and bundled by esbuild into one plain script
// that runs inside @agoric/xsnap's XS worker (host-tests/xs/run-xsnap.mjs). It must therefore use
// nothing but the ECMAScript library: no Node API, no TextEncoder, no timers, no Date.now.

import type { RequestContext } from "../../src/core/protocol/dispatcher.js";
import { DEVICE_LIMITS } from "../../src/core/limits.js";
import { createPlug, type Plug } from "../../src/core/plug.js";
import { FrameDecoder, HEADER_BYTES } from "../../src/core/protocol/wire/frame.js";
import { JsonOut } from "../../src/core/protocol/wire/json-out.js";
import { utf8Length } from "../../src/core/protocol/wire/utf8.js";
import type {
  ClockPort, DatagramPort, KeyValuePort, SavedNetwork, TcpListenerPort, TimerHandle, TimerPort, TimerTarget, WifiCredentials, WifiEvent, WifiNetwork, WifiPort,
} from "../../src/ports/ports.js";
import { arrayBufferOf, failureText, serveDriver, type PendingReply } from "./driver.js";

/** 2024-06-01T12:00:00Z: the wall clock never moves. */
export const FIXED_NOW_MS = 1717243200000;
/** The monotonic clock starts here and moves by a fixed step per answered frame (so on_time counts). */
export const MONOTONIC_START_MS = 1000;
export const MONOTONIC_STEP_MS = 1500;

/** A Map-backed store with the Preference limits (15-character keys, 63-byte values). */
export class MapStore implements KeyValuePort {
  readonly values = new Map<string, string>();
  read(key: string) {
    return this.values.get(key);
  }
  write(key: string, value: string) {
    if (key.length > 15 || utf8Length(value) > 63) return false;
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

export class FixedClock implements ClockPort {
  mono = MONOTONIC_START_MS;
  now() {
    return FIXED_NOW_MS;
  }
  monotonic() {
    return this.mono;
  }
  synced() {
    return true;
  }
}

/** Timers that never fire: they are only queued (and removed again by cancel). */
export class QueuedTimers implements TimerPort {
  private next = 1;
  readonly pending = new Map<number, (() => void) | TimerTarget>();
  after(_ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    const id = this.next++;
    this.pending.set(id, callback);
    return id;
  }
  every(_ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    return this.after(_ms, callback);
  }
  cancel(handle: TimerHandle) {
    this.pending.delete(handle as number);
  }
}

/** Provisioned on "HomeNetwork": every join connects at once; save/forget change what is saved. */
export class FixedWifi implements WifiPort {
  private listener: (event: WifiEvent, detail?: string) => void = () => {};
  private network: SavedNetwork | undefined = { ssid: "HomeNetwork", keyType: 3 };
  private signal = 0;
  private readonly networks: WifiNetwork[] = [
    { ssid: "HomeNetwork", keyType: 3, rssi: -48, channel: 6 },
    { ssid: "", keyType: 3, rssi: -61 },
    { ssid: "Café Gäste 📶", keyType: 2, rssi: -67, channel: 11 },
    { ssid: "Open", keyType: 0, rssi: -80, channel: 1 },
  ];
  mac() {
    return new Uint8Array([0x50, 0xc7, 0xbf, 0x5b, 0x57, 0x7e]);
  }
  listen(l: (event: WifiEvent, detail?: string) => void) {
    this.listener = l;
  }
  scan(done: (networks: WifiNetwork[]) => void) {
    done(this.networks);
  }
  rssi() {
    return this.signal;
  }
  join() {
    this.signal = -48;
    this.listener("connected");
  }
  disconnect() {
    this.signal = 0;
  }
  save(c: WifiCredentials) {
    this.network = { ssid: c.ssid, keyType: c.keyType };
    return true;
  }
  saved() {
    return this.network;
  }
  forget() {
    this.network = undefined;
  }
  openAccessPoint() {}
  closeAccessPoint() {}
  accessPointAddress() {
    return "192.168.4.1";
  }
  accessPointClient() {
    return false;
  }
}

const nullTcp: TcpListenerPort = { listen() {}, close() {} };
const nullUdp: DatagramPort = { listen() {}, send() {}, close() {} };

let plug: Plug | null = null;
let clock = new FixedClock();

/** Builds a fresh plug (empty store) answering as personality `model`; later frames go to it. */
export function startPlug(model: string): void {
  clock = new FixedClock();
  plug = createPlug(
    {
      relay: { set() {} },
      led: { set() {} },
      button: { listen() {} },
      clock,
      timers: new QueuedTimers(),
      store: new MapStore(),
      wifi: new FixedWifi(),
      tcp: nullTcp,
      udp: nullUdp,
      http: nullTcp,
      dns: nullUdp,
      random: (n) => new Uint8Array(n),
      restart: { restart() {} },
      log() {},
    },
    { model, forceModel: true },
  );
  plug.start();
}

/** The server's writer, with the ESP8266's buffer: answers leave in pieces of this size. */
const out = new JsonOut(new Uint8Array(DEVICE_LIMITS.answerBufferBytes));

/**
 * Answers one TCP frame (4-byte length + XOR body) with the answer frame, as the server would:
 * decode, dispatch, stream the answer out in buffer-sized pieces (joined here), then run the
 * after-reply effects. Throws unless `frame` holds exactly one complete frame.
 */
export async function answer(frame: Uint8Array): Promise<Uint8Array> {
  if (plug === null) startPlug("HS100");
  const plaintexts: Uint8Array[] = [];
  const decoder = new FrameDecoder();
  const ok = decoder.feed(frame, (plaintext) => plaintexts.push(plaintext));
  if (!ok || decoder.pending || plaintexts.length !== 1) throw new Error(`expected one complete frame, got ${plaintexts.length}`);
  const effects: (() => void)[] = [];
  const context: RequestContext = { afterReply: (effect) => effects.push(effect) };
  const tree = await plug!.dispatcher.handle(plaintexts[0], context);
  const size = out.measure(tree);
  const whole = new Uint8Array(HEADER_BYTES + size);
  let at = 0;
  out.frame(tree, size, {
    write(bytes) {
      whole.set(bytes, at);
      at += bytes.length;
    },
  });
  if (at !== whole.length) throw new Error(`frame of ${at} bytes, sized ${whole.length}`);
  for (const effect of effects) effect();
  clock.mono += MONOTONIC_STEP_MS;
  return whole;
}

// ---- the XS side: globals the xsnap driver calls (driver.ts) ----

let lastError = "";

serveDriver(
  (message: ArrayBuffer): PendingReply => {
    const reply: PendingReply = {};
    lastError = "the answer never settled";
    answer(new Uint8Array(message)).then(
      (bytes) => {
        lastError = "";
        reply.result = arrayBufferOf(bytes);
      },
      (e: unknown) => {
        lastError = failureText(e);
      },
    );
    return reply;
  },
  startPlug,
  () => lastError,
);
