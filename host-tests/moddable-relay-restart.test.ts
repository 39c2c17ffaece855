// The relay across a restart on the chips (src/moddable/io-esp.ts): an ESP32's esp_restart does not
// reset the GPIO peripheral (ESP-IDF's esp_restart_noos resets the CPUs and some peripherals, not
// GPIO), so the relay's pin goes on driving its level through the restart and the bootloader; the
// firmware opens it at that level (esp32-state.c reads it) and leaves it to the power-on policy, so
// that an update's restart, a rollback or any restart of the plug does not switch the load. Where the
// level is not known (power-on, ESP8266) the relay opens off, also when it is active-low.
// embedded:io/digital is a stand-in that records how each pin is opened and written.

import { beforeEach, describe, expect, it, vi } from "vitest";

type Opened = { pin: number; initialValue?: number };
const pins = { opened: [] as Opened[], writes: [] as [number, number][], levels: new Map<number, number>() };

vi.mock("embedded:io/digital", () => ({
  default: class Digital {
    static Output = 8;
    static Input = 0;
    static InputPullUp = 1;
    static Rising = 1;
    static Falling = 2;
    readonly pin: number;
    constructor(options: Opened & Record<string, unknown>) {
      this.pin = options.pin;
      // as modules/io/digital/digital.js: an initial value only when the option is there
      pins.opened.push("initialValue" in options ? { pin: options.pin, initialValue: options.initialValue } : { pin: options.pin });
    }
    write(value: number) {
      pins.writes.push([this.pin, value]);
    }
    read() {
      return 1;
    }
  },
}));
vi.mock("embedded:io/serial", () => ({ default: class {} }));
vi.mock("pins/digital/monitor", () => ({ default: class {} }));
vi.mock("sntp", () => ({ default: class {} }));
vi.mock("time", () => ({ default: {} }));
vi.mock("timer", () => ({ default: {} }));
vi.mock("mc/config", () => ({ default: {} }));
vi.mock("moddable/plug-update", () => ({ drivenLevel: (pin: number) => pins.levels.get(pin) ?? -1 }));

// imported by a name the Node type check does not follow: io-esp.ts is typed against the SDK's
// modules (npm run typecheck checks it with tsconfig.moddable.json)
type Io = { relay: { set(on: boolean): void } };
const ioModule = "../src/moddable/io-esp.js";
const { createIo } = (await import(ioModule)) as { createIo: (board: Record<string, unknown>, log: (line: string) => void, clock: unknown) => Io };

const RELAY = 26;
const LED = 25;
const clock = { monotonic: () => 0 };
const opened = (pin: number) => pins.opened.find((o) => o.pin === pin);
const writes = (pin: number) => pins.writes.filter(([p]) => p === pin).map(([, v]) => v);

describe("the relay across a restart on a chip", () => {
  beforeEach(() => {
    pins.opened.length = 0;
    pins.writes.length = 0;
    pins.levels.clear();
  });

  it("opens the relay at the level the restart left on its pin, writing nothing until the plug says", () => {
    pins.levels.set(RELAY, 1);
    const io = createIo({ relay: RELAY, led: LED }, () => {}, clock);
    expect(opened(RELAY)).toEqual({ pin: RELAY, initialValue: 1 });
    expect(writes(RELAY)).toEqual([]);
    io.relay.set(true); // the power-on policy: last state, on
    expect(writes(RELAY)).toEqual([1]);
  });

  it("keeps an active-low relay's level too: low (on) stays low", () => {
    pins.levels.set(RELAY, 0);
    createIo({ relay: RELAY, relayActiveLow: true }, () => {}, clock);
    expect(opened(RELAY)).toEqual({ pin: RELAY, initialValue: 0 });
    expect(writes(RELAY)).toEqual([]);
  });

  it("opens the relay off where the level is not known (a power-on, an ESP8266), never driving an active-low relay on first", () => {
    createIo({ relay: RELAY, relayActiveLow: true, led: LED, ledActiveLow: true }, () => {}, clock);
    expect([opened(RELAY), opened(LED)]).toEqual([
      { pin: RELAY, initialValue: 1 },
      { pin: LED, initialValue: 1 },
    ]);
    expect([...writes(RELAY), ...writes(LED)]).toEqual([]);
    createIo({ relay: 5 }, () => {}, clock);
    expect(opened(5)).toEqual({ pin: 5, initialValue: 0 });
  });
});
