// The open TCP connections of one listener, bounded in number and in time. When the bound is
// reached a new client is still served: the connection that has waited longest on its client (one
// that has completed no request first) is dropped for it, so that idle sockets can never lock the
// clients out; only when every open connection is having its answer produced is the new one refused
// at once. A connection past its deadline (idle, or a frame arriving too slowly) is dropped. One
// sweep timer serves them all and runs only while any is open (and up to one sweep after the last
// one left: a plug answering one connection after another, as tplink-smarthome-api connects, would
// otherwise start and stop a timer for every request).

import type { StreamHandler, TimerHandle, TimerPort } from "../../ports/ports.js";

/** How often deadlines are looked at (ms): deadlines are met to within this. */
export const SWEEP_MS = 1000;

/** The handler of a connection refused because every open one was busy: its socket was closed at once. */
export const REFUSED: StreamHandler = Object.freeze({ data() {}, end() {} });

/** Why a connection is dropped: its deadline passed, the listener stops, or a new client needs its place. */
export type Expiry = "late" | "stopping" | "evicted";

export interface Bounded {
  /** Monotonic ms after which the connection is dropped; 0: none now (its answer is being produced: never evicted). */
  deadline(): number;
  /** Monotonic ms since when it has waited on its client: its last complete request, or its accept. */
  idleSince(): number;
  /** Requests it has completed; 0 for a socket opened and never used. */
  served(): number;
  /** Drops the connection (it then calls `release`). */
  expire(why: Expiry): void;
}

export class ConnectionSet<T extends Bounded> {
  private readonly open: T[] = [];
  private sweeper: TimerHandle | undefined;

  constructor(
    private readonly timers: TimerPort,
    private readonly now: () => number,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.open.length;
  }

  /**
   * Makes room for one more connection, before anything is built for it. At the bound it drops the
   * connection idle longest, preferring one that has completed no request, never one whose answer is
   * being produced. False when every open connection is busy: the new socket is to be closed at
   * once and get REFUSED.
   */
  makeRoom(): boolean {
    if (this.open.length < this.max) return true;
    let victim: T | undefined;
    for (let i = 0; i < this.open.length; i++) {
      const c = this.open[i];
      if (c.deadline() === 0) continue;
      if (victim === undefined) victim = c;
      else if ((c.served() === 0) !== (victim.served() === 0)) {
        if (c.served() === 0) victim = c;
      } else if (c.idleSince() < victim.idleSince()) victim = c;
    }
    if (victim === undefined) return false;
    victim.expire("evicted");
    this.release(victim); // its place is free even if it did not let go itself
    return true;
  }

  /** Takes `connection` in (the caller made room first). */
  admit(connection: T): void {
    this.open.push(connection);
    if (this.sweeper === undefined) this.sweeper = this.timers.every(SWEEP_MS, this);
  }

  /** Lets `connection` go; the sweep timer stops at its next run if no connection is open then. */
  release(connection: T): void {
    const i = this.open.indexOf(connection);
    if (i >= 0) this.open.splice(i, 1);
  }

  /** Drops every connection (the listener stops). */
  clear(): void {
    const all = this.open.slice();
    for (let i = 0; i < all.length; i++) all[i].expire("stopping");
    this.open.length = 0;
    this.stopSweeping();
  }

  /** Its sweep timer (a TimerTarget). */
  fired(): void {
    this.sweep();
  }

  private sweep(): void {
    if (this.open.length === 0) {
      this.stopSweeping();
      return;
    }
    const now = this.now();
    // Backwards: an expired connection releases itself from the list while we walk it.
    for (let i = this.open.length - 1; i >= 0; i--) {
      const c = this.open[i];
      const at = c.deadline();
      if (at > 0 && now >= at) c.expire("late");
    }
  }

  private stopSweeping(): void {
    this.timers.cancel(this.sweeper);
    this.sweeper = undefined;
  }
}
