// Relay, LED and button on ECMA-419 `embedded:io/digital` (ESP8266 and ESP32). Pins and polarity
// come from the board's manifest; the button is debounced in software.

import Digital from "embedded:io/digital";
import Timer from "timer";
import type { ButtonPort, LedPort, RelayPort } from "../ports/ports.js";
import { pin, yes, type BoardConfig } from "./board.js";
import { DEBOUNCE_MS, type IoFactory } from "./io.js";

declare const System: { restart(): void };

class OutputPin implements RelayPort, LedPort {
  private readonly io: Digital | null;
  constructor(pinNumber: number | undefined, private readonly activeLow: boolean) {
    this.io = pinNumber === undefined ? null : new Digital({ pin: pinNumber, mode: Digital.Output });
  }
  set(on: boolean): void {
    this.io?.write(on !== this.activeLow ? 1 : 0);
  }
}

class DebouncedButton implements ButtonPort {
  private listener: ((pressed: boolean) => void) | null = null;
  private io: Digital | null = null;
  private timer: Timer | undefined;
  private pressed = false;

  constructor(private readonly pinNumber: number | undefined, private readonly activeLow: boolean) {}

  listen(onChange: (pressed: boolean) => void): void {
    this.listener = onChange;
    if (this.pinNumber === undefined || this.io !== null) return;
    const self = this;
    this.io = new Digital({
      pin: this.pinNumber,
      mode: this.activeLow ? Digital.InputPullUp : Digital.Input,
      edge: Digital.Rising | Digital.Falling,
      onReadable() {
        // re-sample once the contacts have settled; edges during the wait restart it
        if (self.timer !== undefined) Timer.clear(self.timer);
        self.timer = Timer.set(() => self.sample(), DEBOUNCE_MS);
      },
    });
  }

  private sample(): void {
    this.timer = undefined;
    const level = this.io!.read();
    const pressed = (level === 1) !== this.activeLow;
    if (pressed === this.pressed) return;
    this.pressed = pressed;
    this.listener?.(pressed);
  }
}

export const createIo: IoFactory = (board: BoardConfig) => ({
  relay: new OutputPin(pin(board.relay), yes(board.relayActiveLow)),
  led: new OutputPin(pin(board.led), yes(board.ledActiveLow)),
  button: new DebouncedButton(pin(board.button), board.buttonActiveLow === undefined ? true : yes(board.buttonActiveLow)),
  restart: { restart: () => System.restart() },
});
