// The open TCP connections of one listener, bounded in number and in time: one more than the bound
// is refused at once, and a connection past its deadline (idle, or a frame arriving too slowly) is
// dropped. One sweep timer serves them all and runs only while any is open (and up to one sweep
// after the last one left: a plug answering one connection after another, as tplink-smarthome-api
// connects, would otherwise start and stop a timer for every request).

import type { StreamHandler, TimerHandle, TimerPort } from "../ports/ports.js";

/** How often deadlines are looked at (ms): deadlines are met to within this. */
export const SWEEP_MS = 1000;

/** The handler of a connection refused because the bound was reached: its socket was closed at once. */
export const REFUSED: StreamHandler = Object.freeze({ data() {}, end() {} });

export interface Bounded {
  /** Monotonic ms after which the connection is dropped; 0: none now (a request is being answered). */
  deadline(): number;
  /** Drops the connection (it then calls `release`): its deadline passed, or the listener stops. */
  expire(stopping: boolean): void;
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

  /** True when the bound is reached: a new socket is closed at once and gets REFUSED, before anything is built for it. */
  get full(): boolean {
    return this.open.length >= this.max;
  }

  /** Takes `connection` in (the caller checked `full` first). */
  admit(connection: T): void {
    this.open.push(connection);
    if (this.sweeper === undefined) this.sweeper = this.timers.every(SWEEP_MS, () => this.sweep());
  }

  /** Lets `connection` go; the sweep timer stops at its next run if no connection is open then. */
  release(connection: T): void {
    const i = this.open.indexOf(connection);
    if (i >= 0) this.open.splice(i, 1);
  }

  /** Drops every connection (the listener stops). */
  clear(): void {
    const all = this.open.slice();
    for (let i = 0; i < all.length; i++) all[i].expire(true);
    this.open.length = 0;
    this.stopSweeping();
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
      if (at > 0 && now >= at) c.expire(false);
    }
  }

  private stopSweeping(): void {
    this.timers.cancel(this.sweeper);
    this.sweeper = undefined;
  }
}
