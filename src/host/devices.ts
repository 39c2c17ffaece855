// Host adapters for the plug's hardware: the relay prints its changes in the terminal, the LED
// keeps its level (the core logs its patterns), the button is pressed from code (tests) or not at all.

import type { ButtonPort, LedPort, LogPort, RelayPort } from "../ports/ports.js";

export class TerminalRelay implements RelayPort {
  on = false;
  /** `quiet`: changes are not logged (while the plug boots: its identity line says the relay's state). */
  constructor(private readonly log: LogPort, public quiet = false) {}
  set(on: boolean): void {
    this.on = on;
    if (!this.quiet) this.log(`relay ${on ? "ON" : "OFF"}`);
  }
}

/** The LED's level (the core logs the pattern, not each blink; nothing else is kept: a plug blinks for days). */
export class TerminalLed implements LedPort {
  on = false;
  set(on: boolean): void {
    this.on = on;
  }
}

/** A button pressed from code: `down()` and `up()` are the pin's edges (the core debounces them). */
export class VirtualButton implements ButtonPort {
  private listener: ((pressed: boolean) => void) | null = null;
  listen(onChange: (pressed: boolean) => void): void {
    this.listener = onChange;
  }
  down(): void {
    this.listener?.(true);
  }
  up(): void {
    this.listener?.(false);
  }
}
