// The push button's gestures: a short press toggles the relay, a 5-second hold opens the setup
// network, a 10-second hold wipes the plug (on release, with LED feedback while held, so that a
// user sees what letting go will do). The pin's raw edges are debounced here (core/timing.ts).

import type { TimerHandle, TimerPort } from "../ports/ports.js";
import { DEBOUNCE_MS, RESET_HOLD_MS, SETUP_HOLD_MS, SHORT_PRESS_MAX_MS } from "./timing.js";

/** What letting go of the button now would do, for the LED. */
export type HoldStage = "none" | "setup" | "reset";

export interface ButtonActions {
  toggle(): void;
  setup(): void;
  reset(): void;
  /** The button went down (debounced), whatever the gesture turns out to be: someone is at the plug. */
  pressed?(): void;
  /** The button has been held past a threshold (or released: "none"). */
  holding(stage: HoldStage): void;
}

export class ButtonGestures {
  private raw = false;
  private stable = false;
  private pressedAt = 0;
  private settle: TimerHandle | undefined;
  private stageTimer: TimerHandle | undefined;

  constructor(
    private readonly timers: TimerPort,
    private readonly now: () => number,
    private readonly actions: ButtonActions,
  ) {}

  /** A level change as the pin reported it, bounces included. */
  edge(pressed: boolean): void {
    this.raw = pressed;
    this.timers.cancel(this.settle);
    this.settle = this.timers.after(DEBOUNCE_MS, () => this.settled());
  }

  stop(): void {
    this.timers.cancel(this.settle);
    this.timers.cancel(this.stageTimer);
  }

  private settled(): void {
    this.settle = undefined;
    if (this.raw === this.stable) return; // a bounce that came back
    this.stable = this.raw;
    if (this.stable) {
      this.pressedAt = this.now();
      this.actions.pressed?.();
      this.stageTimer = this.timers.after(SETUP_HOLD_MS, () => {
        this.actions.holding("setup");
        this.stageTimer = this.timers.after(RESET_HOLD_MS - SETUP_HOLD_MS, () => this.actions.holding("reset"));
      });
      return;
    }
    this.timers.cancel(this.stageTimer);
    const held = this.now() - this.pressedAt;
    if (held >= SETUP_HOLD_MS) this.actions.holding("none");
    if (held >= RESET_HOLD_MS) this.actions.reset();
    else if (held >= SETUP_HOLD_MS) this.actions.setup();
    else if (held < SHORT_PRESS_MAX_MS) this.actions.toggle();
  }
}
