// Clock and timers on Moddable's `time` and `timer`, set by SNTP once the station is online.

import SNTP from "sntp";
import Time from "time";
import Timer from "timer";
import type { ClockPort, LogPort, TimerHandle, TimerPort, TimerTarget } from "../ports/ports.js";

/** Any wall clock before 2024 has not been set (an ESP boots at 1970). */
const EARLIEST_PLAUSIBLE_MS = 1704067200000;

export const DEFAULT_SNTP = "pool.ntp.org";
/** A crystal drifts seconds a day: the time is asked again this often while online. */
const RESYNC_MS = 12 * 60 * 60 * 1000;

export class ModdableClock implements ClockPort {
  private sntp: SNTP | null = null;
  private resync: Timer | undefined;

  constructor(
    /** The SNTP server asked for the time. */
    private readonly host: string,
    private readonly log: LogPort,
  ) {}

  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return Time.ticks;
  }
  synced(): boolean {
    return Date.now() >= EARLIEST_PLAUSIBLE_MS;
  }

  /** The station got its address (true) or lost it (false): with an address, the time is asked for. */
  online(up: boolean): void {
    if (up) this.sync();
  }

  private sync(): void {
    if (this.sntp !== null) return;
    this.sntp = new SNTP({ host: this.host }, (message, value) => this.answered(message, value));
  }

  private answered(message: number, value: number | undefined): void {
    if (message === SNTP.time && value !== undefined) {
      Time.set(value);
      this.log(`time set by SNTP from ${this.host}`);
      this.sntp = null;
      if (this.resync !== undefined) Timer.clear(this.resync);
      this.resync = Timer.set(() => {
        this.resync = undefined;
        this.sync();
      }, RESYNC_MS);
    } else if (message === SNTP.error) {
      this.log(`SNTP: no answer from ${this.host}; rules wait for the time`);
      this.sntp = null;
    }
  }
}

// The callback goes to Timer as it is, not wrapped in a closure (a closure made at run time copies
// its code into RAM and keeps an environment: docs/MEMORY.md). Timer calls it with the timer as its
// argument, which the core's callbacks, all `() => void`, ignore.
/** A timer set for a TimerTarget: a module function (in flash) that finds the target on the timer. */
function fireTarget(timer: Timer): void {
  (timer as unknown as { target: TimerTarget }).target.fired(timer);
}

export class ModdableTimers implements TimerPort {
  after(ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    if (typeof callback === "function") return Timer.set(callback, ms);
    const timer = Timer.set(fireTarget, ms);
    (timer as unknown as { target: TimerTarget }).target = callback;
    return timer;
  }
  every(ms: number, callback: (() => void) | TimerTarget): TimerHandle {
    if (typeof callback === "function") return Timer.repeat(callback, ms);
    const timer = Timer.repeat(fireTarget, ms);
    (timer as unknown as { target: TimerTarget }).target = callback;
    return timer;
  }
  cancel(handle: TimerHandle | undefined): void {
    if (handle !== undefined) Timer.clear(handle as Timer);
  }
}
