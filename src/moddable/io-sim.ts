// Relay, LED and button in the Moddable simulator, which has no GPIO: the relay and LED are shown
// on the simulated device's LEDs where its target has them (`Host.LED`, e.g. sim/nodemcu) and
// always in the console; the device's button (`Host.Button`) toggles the relay.

import { behindRelay, constantLoad, DEFAULT_MAINS_VOLTS, simulatedMeter, wattsOverTime, type LoadProfile } from "../core/energy/meter/simulate.js";
import type { ButtonPort, LedPort, RelayPort } from "../ports/ports.js";
import type { MeterBoardConfig } from "./board.js";
import type { IoFactory } from "./io.js";
import { createMeter, positive, type MeterFactory } from "./meter.js";
import { randomBytes } from "./sim-random.js";

/** At most this many [ms, watts] steps in a simulated load. */
const MAX_LOAD_POINTS = 64;
/** A simulated load of at most 25 A at 240 V. */
const MAX_WATTS = 6000;

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
  /** The state last set (the simulated load draws power only while the relay is on). */
  on = false;
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
    this.on = on;
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

function watts(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= MAX_WATTS ? value : undefined;
}

/** `"load": watts` or `"load": [[ms, watts], ...]` (times ascending), or undefined if it is neither. */
function loadProfile(config: MeterBoardConfig, volts: number): LoadProfile | undefined {
  const load = config.load;
  const constant = watts(load);
  if (constant !== undefined) return constantLoad(constant, volts);
  if (!Array.isArray(load) || load.length === 0 || load.length > MAX_LOAD_POINTS) return undefined;
  // copied: the config's arrays are frozen with the preloaded mc/config
  const points: Array<[number, number]> = [];
  let last = -1;
  for (const point of load as ReadonlyArray<unknown>) {
    if (!Array.isArray(point) || point.length !== 2) return undefined;
    const t: unknown = point[0];
    const w = watts(point[1]);
    if (typeof t !== "number" || !Number.isFinite(t) || t <= last || w === undefined) return undefined;
    points.push([t, w]);
    last = t;
  }
  return wattsOverTime(points, volts);
}

/**
 * The simulator's meter: the board's chip, fed by a simulated chip on `load` behind `relay` (no
 * current while it is off; the chip still sees the mains voltage), decoded by the real driver
 * (src/core/energy/meter/simulate.ts): the same frames or pulse counts a device would see.
 */
const simulatedMeterFactory = (relay: SimOutput): MeterFactory => (config, chip, { timers, clock, log }) => {
  const volts = positive(config.volts) ?? DEFAULT_MAINS_VOLTS;
  // no "load": nothing plugged in, the chip still reads the mains voltage
  const plugged = config.load === undefined ? constantLoad(0, volts) : loadProfile(config, volts);
  if (plugged === undefined) {
    log(`meter: the simulator needs "load": watts (0-${MAX_WATTS}) or [[ms, watts], ...] (at most ${MAX_LOAD_POINTS}, times ascending); no meter`);
    return undefined;
  }
  // (not JSON.stringify: XS refuses to stringify the preloaded config's arrays, "read only value")
  const described = Array.isArray(config.load) ? `${config.load.length} steps from ${config.load[0][1]}` : `${config.load ?? 0}`;
  log(`meter: simulated ${chip}, load ${described} W at ${volts} V`);
  return simulatedMeter(chip, behindRelay(plugged, () => relay.on), timers, clock);
};

export const createIo: IoFactory = (board, log, clock) => {
  const leds = host()?.LED;
  const relay = new SimOutput("relay", log, leds?.A ?? leds?.Default);
  return {
    relay,
    led: new SimOutput("LED", undefined, leds?.B),
    button: new SimButton(),
    restart: undefined,
    // unprivileged ports: mcsim runs as the user
    httpPort: 8080,
    dnsPort: 5353,
    // the OS's (/dev/urandom): Math.random here is the C library's rand(), never seeded
    random: randomBytes,
    meter: createMeter(board, simulatedMeterFactory(relay), clock, log),
  };
};
