// Relay, LED and button in the Moddable simulator, which has no GPIO: the relay and LED are shown
// on the simulated device's LEDs where its target has them (`Host.LED`, e.g. sim/nodemcu) and
// always in the console; the device's button (`Host.Button`) toggles the relay.

import type { ButtonPort, LedPort, RelayPort } from "../ports/ports.js";
import { mathRandom, type IoFactory } from "./io.js";

interface HostLed {
  on(): void;
  off(): void;
}
interface SimHost {
  LED?: { A?: new () => HostLed; B?: new () => HostLed; Default?: new () => HostLed };
  Button?: { Default?: new (options: { onPush(this: { pressed?: boolean }, value?: number): void }) => unknown };
}

function host(): SimHost | undefined {
  return (globalThis as { Host?: SimHost }).Host;
}

class SimOutput implements RelayPort, LedPort {
  private readonly led: HostLed | undefined;
  /** `log` is undefined for the status LED: the core logs its patterns, not every blink. */
  constructor(private readonly name: string, private readonly log: ((line: string) => void) | undefined, make: (new () => HostLed) | undefined) {
    try {
      this.led = make === undefined ? undefined : new make();
    } catch {
      this.led = undefined;
    }
  }
  set(on: boolean): void {
    this.log?.(`${this.name} ${on ? "ON" : "OFF"}`);
    if (on) this.led?.on();
    else this.led?.off();
  }
}

class SimButton implements ButtonPort {
  listen(onChange: (pressed: boolean) => void): void {
    const Button = host()?.Button?.Default;
    if (Button === undefined) return;
    try {
      new Button({
        onPush(value?: number) {
          // Host buttons report pushes as 1 (down) and 0 (up); pressed means down
          onChange(value === undefined ? this.pressed === true : value === 1);
        },
      });
    } catch {
      // this simulated device has no button
    }
  }
}

export const createIo: IoFactory = (_board, log) => {
  const leds = host()?.LED;
  return {
    relay: new SimOutput("relay", log, leds?.A ?? leds?.Default),
    led: new SimOutput("LED", undefined, leds?.B),
    button: new SimButton(),
    restart: undefined,
    // unprivileged ports: mcsim runs as the user
    httpPort: 8080,
    dnsPort: 5353,
    random: mathRandom,
  };
};
