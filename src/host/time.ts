// Host clock and timers: the machine's clock is the plug's (it is kept right by the OS).

import { performance } from "node:perf_hooks";
import type { ClockPort, TimerHandle, TimerPort } from "../ports/ports.js";

export class HostClock implements ClockPort {
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  synced(): boolean {
    return true;
  }
}

/** Timers that are all cancelled when the plug stops (a restart must not leave old ones running). */
export class HostTimers implements TimerPort {
  private readonly live = new Set<NodeJS.Timeout>();

  after(ms: number, callback: () => void): TimerHandle {
    const t: NodeJS.Timeout = setTimeout(() => {
      this.live.delete(t);
      callback();
    }, ms);
    this.live.add(t);
    return t;
  }

  every(ms: number, callback: () => void): TimerHandle {
    const t = setInterval(callback, ms);
    this.live.add(t);
    return t;
  }

  cancel(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    const t = handle as NodeJS.Timeout;
    clearTimeout(t);
    this.live.delete(t);
  }

  cancelAll(): void {
    for (const t of this.live) clearTimeout(t);
    this.live.clear();
  }
}
