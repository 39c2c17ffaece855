// KLAP on HTTP (issue 18): /app/handshake1, /app/handshake2 and /app/request?seq=N in front of the
// Kasa dispatcher. INTERFACE STUB: the implementation replaces this file (the wiring in plug.ts
// builds against this shape).

import type { CryptoPort, LogPort, RandomPort, TcpListenerPort, TimerPort } from "../../ports/ports.js";
import type { Limits } from "../limits.js";
import type { KasaServer } from "../protocol/server.js";

export interface KlapServerPorts {
  crypto: CryptoPort;
  random: RandomPort;
  /** The plug's limited log. */
  log: LogPort;
  timers: TimerPort;
  /** Monotonic milliseconds. */
  now: () => number;
}

/** Where the owner's auth hash comes from (the plug's settings). */
export interface KlapKeys {
  /** The v1 auth hash (16 bytes), or undefined while no credentials are set: every handshake is then refused. */
  authHash(): Uint8Array | undefined;
}

export class KlapServer {
  constructor(
    readonly kasa: KasaServer,
    readonly ports: KlapServerPorts,
    readonly keys: KlapKeys,
    readonly limits: Limits,
  ) {}

  /** Serves KLAP on this listener (port 80 on a device). */
  start(_http: TcpListenerPort): void {}

  /** Closes the listener and every session. */
  stop(): void {}
}
