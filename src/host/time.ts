// Host clock and timers: the machine's clock is the plug's (it is kept right by the OS), unless the
// plug is told to start without a time source (--no-time), as a plug with no internet does.

import { performance } from "node:perf_hooks";
import type { ClockPort, TimerHandle, TimerPort, TimerTarget } from "../ports/ports.js";

export class HostClock implements ClockPort {
  /** `synced` false: no time source until a client sets the time (set_timezone, set_time). */
  constructor(private readonly isSynced = true) {}
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  synced(): boolean {
    return this.isSynced;
  }
}

/** Timers that are all cancelled when the plug stops (a restart must not leave old ones running). */
export class HostTimers implements TimerPort {
  private readonly live = new Set<NodeJS.Timeout>();

  after(ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    const t: NodeJS.Timeout = setTimeout(() => {
      this.live.delete(t);
      if (typeof callback === "function") callback();
      else callback.fired(t);
    }, ms);
    this.live.add(t);
    return t;
  }

  every(ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    const t: NodeJS.Timeout = setInterval(() => (typeof callback === "function" ? callback() : callback.fired(t)), ms);
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
