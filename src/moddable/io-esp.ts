// Relay, LED and button on ECMA-419 `embedded:io/digital` (ESP8266 and ESP32). Pins and polarity
// come from the board's manifest; the button's edges go to the core as read (it debounces them).

import Digital from "embedded:io/digital";
import { drivenLevel } from "moddable/plug-update"; // ESP32: the level a restart left on a pin (update-esp32); -1 elsewhere
import type { ButtonPort, LedPort, RelayPort, RestartPort } from "../ports/ports.js";
import { pin, yes, type BoardConfig } from "./board.js";
import { mathRandom, type IoFactory } from "./io.js";
import { countsPulses, createMeter, pinnedMeter } from "./meter.js";
import { espMeterPins, MonitorButton } from "./meter-esp.js";

declare const System: { restart(): void };

type DigitalOptions = ConstructorParameters<typeof Digital>[0];

class OutputPin implements RelayPort, LedPort {
  private readonly io: Digital | null;
  /**
   * Opened at `level` when it is 0 or 1 (the relay: what the pin drove before a restart, so that the
   * restart does not switch the load before the power-on policy decides), else off (an output
   * opened without an initial value starts low, which is "on" for an active-low pin).
   */
  constructor(pinNumber: number | undefined, private readonly activeLow: boolean, level = -1) {
    const initialValue = level === 0 || level === 1 ? level : activeLow ? 1 : 0;
    this.io = pinNumber === undefined ? null : new Digital({ pin: pinNumber, mode: Digital.Output, initialValue } as DigitalOptions);
  }
  set(on: boolean): void {
    this.io?.write(on !== this.activeLow ? 1 : 0);
  }
}

class ButtonPin implements ButtonPort {
  private io: Digital | null = null;

  constructor(private readonly pinNumber: number | undefined, private readonly activeLow: boolean) {}

  listen(onChange: (pressed: boolean) => void): void {
    if (this.pinNumber === undefined || this.io !== null) return;
    const activeLow = this.activeLow;
    this.io = new Digital({
      pin: this.pinNumber,
      mode: activeLow ? Digital.InputPullUp : Digital.Input,
      edge: Digital.Rising | Digital.Falling,
      onReadable(this: Digital) {
        onChange((this.read() === 1) !== activeLow);
      },
    });
  }
}

/** The chip's restart: an object of this preloaded module, in flash (a closure made at boot would copy its code into RAM). */
const SYSTEM_RESTART: RestartPort = Object.freeze({
  restart() {
    System.restart();
  },
});

/** The relay's output, at the level a restart left on its pin where the chip tells it (ESP32), else off. */
function relayPin(pinNumber: number | undefined, activeLow: boolean): OutputPin {
  return new OutputPin(pinNumber, activeLow, pinNumber === undefined ? -1 : drivenLevel(pinNumber));
}

export const createIo: IoFactory = (board: BoardConfig, log, clock) => ({
  relay: relayPin(pin(board.relay), yes(board.relayActiveLow)),
  led: new OutputPin(pin(board.led), yes(board.ledActiveLow)),
  // with a pulse-counting meter the button goes through pins/digital/monitor as well (meter-esp.ts)
  button: new (countsPulses(board) ? MonitorButton : ButtonPin)(pin(board.button), board.buttonActiveLow === undefined ? true : yes(board.buttonActiveLow)),
  restart: SYSTEM_RESTART,
  httpPort: 80,
  dnsPort: 53,
  random: mathRandom,
  meter: createMeter(board, pinnedMeter(espMeterPins()), clock, log),
});
