// Host adapters for the plug's hardware: the relay and LED print their changes in the terminal,
// the button is pressed from code (tests) or not at all.

import type { ButtonPort, LedPort, LogPort, RelayPort } from "../ports/ports.js";

export class TerminalRelay implements RelayPort {
  on = false;
  constructor(private readonly log: LogPort) {}
  set(on: boolean): void {
    this.on = on;
    this.log(`relay ${on ? "ON" : "OFF"}`);
  }
}

export class TerminalLed implements LedPort {
  on = false;
  constructor(private readonly log: LogPort) {}
  set(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    this.log(`LED ${on ? "on" : "off"}`);
  }
}

/** A button nobody holds; `press()` simulates a short press. */
export class VirtualButton implements ButtonPort {
  private listener: ((pressed: boolean) => void) | null = null;
  listen(onChange: (pressed: boolean) => void): void {
    this.listener = onChange;
  }
  press(): void {
    this.listener?.(true);
    this.listener?.(false);
  }
}
