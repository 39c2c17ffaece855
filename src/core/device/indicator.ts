// The status LED: one pattern at a time, chosen from the plug's state. Held-button feedback comes
// first, then an open presence lock (presence.ts), then the Wi-Fi state (setup, joining, join
// failed); once joined the LED shows the relay unless `led_off` (night mode) is set. Patterns and their timings are in core/timing.ts.

import type { LedPort, LogPort, TimerHandle, TimerPort } from "../../ports/ports.js";
import type { HoldStage } from "./button.js";
import type { Device } from "./device.js";
import type { Onboarding } from "../onboarding/onboarding.js";
import type { PresenceLock } from "./presence.js";
import { LED_PATTERN, type LedPatternName } from "../timing.js";

export class Indicator {
  private hold: HoldStage = "none";
  private shown: LedPatternName | boolean | undefined;
  private step = 0;
  /** The blink pattern shown (on and off times, ms). */
  private pattern: readonly number[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly led: LedPort,
    private readonly timers: TimerPort,
    private readonly device: Device,
    private readonly onboarding: Onboarding,
    private readonly presence: PresenceLock,
    private readonly log: LogPort,
  ) {}

  holding(stage: HoldStage): void {
    this.hold = stage;
    this.update();
  }

  /** Shows whatever the state calls for now; called after every change that could alter it. */
  update(): void {
    const wifi = this.onboarding.state;
    if (this.hold === "reset") this.show("holdReset");
    else if (this.hold === "setup") this.show("holdSetup");
    else if (this.hold === "unlock") this.show("holdUnlock");
    else if (this.presence.unlocked()) this.show("unlocked");
    else if (wifi === "setup") this.show(this.onboarding.lastFailed ? "failed" : "setup");
    else if (wifi === "received" || wifi === "joining" || wifi === "offline") this.show("joining");
    else this.show(this.device.relay && this.device.ledOff === 0);
  }

  stop(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
  }

  /** A steady level, or a named pattern of alternating on/off durations (empty: steady on). */
  private show(what: LedPatternName | boolean): void {
    if (what === this.shown) return; // the same pattern keeps its rhythm
    this.shown = what;
    this.stop();
    // One line per change, not per blink: the adapters do not log the LED themselves.
    this.log(typeof what === "boolean" ? `LED ${what ? "on" : "off"}` : `LED pattern "${what}"`);
    if (typeof what === "boolean") {
      this.led.set(what);
      return;
    }
    this.pattern = LED_PATTERN[what];
    this.step = 0;
    this.led.set(true);
    if (this.pattern.length > 0) this.timer = this.timers.after(this.pattern[0], this);
  }

  /** Its blink timer (a TimerTarget): the pattern's next step. */
  fired(): void {
    const pattern = this.pattern;
    this.step = (this.step + 1) % pattern.length;
    this.led.set(this.step % 2 === 0);
    this.timer = this.timers.after(pattern[this.step], this);
  }
}
