// The confirmation of a freshly updated firmware. After an update the bootloader boots the new
// image once, on trial (UpdatePort.pendingConfirmation). It is confirmed (UpdatePort.confirm) only
// once it has shown it does the plug's job: it joined its network and served a Kasa request (on
// port 9999 or over KLAP). If that has not happened within UPDATE_CONFIRM_MS, it restarts, and the
// bootloader, finding the image still on trial, goes back to the previous one. An image that hangs
// or crashes before that restarts too (watchdog, exception) and is rolled back the same way.
//
// The restart goes through the plug (PlugRestart: AssembledPlug.restart), so a relay change still
// waiting for flash is written first and the relay comes back as the power-on policy says: a
// rollback does not switch the load.

import type { LogPort, RestartPort, TimerHandle, TimerPort, TimerTarget, UpdatePort } from "../../ports/ports.js";
import { UPDATE_CONFIRM_MS } from "../timing.js";

/** "5 minutes", or seconds when less than one. */
function minutes(ms: number): string {
  return ms >= 60000 ? `${ms / 60000} minutes` : `${ms / 1000} s`;
}

const JOINED = 1;
const SERVED = 2;

export class UpdateConfirmation implements TimerTarget {
  private seen = 0;
  private timer: TimerHandle | undefined = undefined;

  constructor(
    private readonly port: UpdatePort,
    private readonly timers: TimerPort,
    private readonly restart: RestartPort,
    private readonly log: LogPort,
    /** How long the new image has (UPDATE_CONFIRM_MS; the host's tests shorten it). */
    private readonly ms = UPDATE_CONFIRM_MS,
  ) {}

  /** At boot: true (and the clock started) when the running image is on trial. */
  start(): boolean {
    if (!this.port.pendingConfirmation()) return false;
    this.log(`new firmware on trial: it is kept once it joins its network and serves a request, within ${minutes(this.ms)}`);
    this.timer = this.timers.after(this.ms, this);
    return true;
  }

  /** Whether the image still waits for its confirmation. */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  /** The station joined its network. */
  joined(): void {
    this.saw(JOINED);
  }

  /** A client's request was answered. */
  served(): void {
    this.saw(SERVED);
  }

  /** The plug stops (a restart of its own): no confirmation, no rollback restart from here. */
  stop(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
  }

  /** The time is up without a confirmation: restart, and the bootloader rolls back. */
  fired(): void {
    if (this.timer === undefined) return;
    this.timer = undefined;
    this.log(`new firmware not confirmed within ${minutes(this.ms)}: restarting into the previous one`);
    this.restart.restart();
  }

  private saw(what: number): void {
    if (this.timer === undefined) return;
    this.seen |= what;
    if (this.seen !== (JOINED | SERVED)) return;
    this.port.confirm();
    if (this.port.pendingConfirmation()) {
      // the bootloader did not take it: the clock runs on, and the restart rolls back
      this.log("new firmware could not be confirmed: it will be rolled back");
      return;
    }
    this.timers.cancel(this.timer);
    this.timer = undefined;
    this.log("new firmware confirmed");
  }
}
