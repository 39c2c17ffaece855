// The push button's gestures: a short press toggles the relay, a hold let go between 2 and 5 seconds
// opens the presence lock for one command (presence.ts), a 5-second hold opens the setup network, a
// 10-second hold wipes the plug (on release, with LED feedback while held, so that a user sees what
// letting go will do). A press of 1-2 s does nothing. The pin's raw edges are debounced here
// (core/timing.ts).

import type { TimerHandle, TimerPort } from "../../ports/ports.js";
import { DEBOUNCE_MS, RESET_HOLD_MS, SETUP_HOLD_MS, SHORT_PRESS_MAX_MS, UNLOCK_HOLD_MS } from "../timing.js";

/** What letting go of the button now would do, for the LED. */
export type HoldStage = "none" | "unlock" | "setup" | "reset";

/** The held button's stages in order, and when each begins (ms held): frozen tables, no closure per press. */
const STAGES: readonly HoldStage[] = Object.freeze(["none", "unlock", "setup", "reset"] as HoldStage[]);
const STAGE_AT: readonly number[] = Object.freeze([0, UNLOCK_HOLD_MS, SETUP_HOLD_MS, RESET_HOLD_MS]);

export interface ButtonActions {
  toggle(): void;
  /** Held 2-5 s: the owner opens the presence lock. Nothing else changes (nothing on the network shows it). */
  unlock(): void;
  setup(): void;
  reset(): void;
  /** The button has been held past a threshold (or released: "none"). */
  holding(stage: HoldStage): void;
}

export class ButtonGestures {
  private raw = false;
  private stable = false;
  private pressedAt = 0;
  private settle: TimerHandle | undefined;
  private stageTimer: TimerHandle | undefined;
  /** The held button's stage (an index into STAGES). */
  private stage = 0;

  constructor(
    private readonly timers: TimerPort,
    private readonly now: () => number,
    private readonly actions: ButtonActions,
  ) {}

  /** A level change as the pin reported it, bounces included. */
  edge(pressed: boolean): void {
    this.raw = pressed;
    this.timers.cancel(this.settle);
    this.settle = this.timers.after(DEBOUNCE_MS, this); // fired: no closure made per edge
  }

  stop(): void {
    this.timers.cancel(this.settle);
    this.timers.cancel(this.stageTimer);
  }

  /** Its timers (a TimerTarget): the level settled, or the held button passed its next threshold. */
  fired(handle: TimerHandle): void {
    if (handle === this.settle) {
      this.settled();
      return;
    }
    const stage = ++this.stage;
    this.actions.holding(STAGES[stage]);
    this.stageTimer = stage + 1 < STAGE_AT.length ? this.timers.after(STAGE_AT[stage + 1] - STAGE_AT[stage], this) : undefined;
  }

  private settled(): void {
    this.settle = undefined;
    if (this.raw === this.stable) return; // a bounce that came back
    this.stable = this.raw;
    if (this.stable) {
      this.pressedAt = this.now();
      this.stage = 0;
      this.stageTimer = this.timers.after(STAGE_AT[1], this);
      return;
    }
    this.timers.cancel(this.stageTimer);
    const held = this.now() - this.pressedAt;
    if (held >= RESET_HOLD_MS) {
      this.actions.holding("none");
      this.actions.reset();
      return;
    }
    // the gesture first, then the LED lets go of the hold's feedback for what the gesture opened
    if (held >= SETUP_HOLD_MS) this.actions.setup();
    else if (held >= UNLOCK_HOLD_MS) this.actions.unlock();
    else if (held < SHORT_PRESS_MAX_MS) this.actions.toggle();
    if (held >= UNLOCK_HOLD_MS) this.actions.holding("none");
  }
}
