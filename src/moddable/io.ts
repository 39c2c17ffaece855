// What each platform's io module (io-esp.ts on ESP8266/ESP32, io-sim.ts in the simulator) provides:
// the manifest maps the module name "moddable/plug-io" to one of them (so that their relative imports resolve beside this file).

import type { MeterDriver, MonotonicClock } from "../core/energy/meter/meter.js";
import type { ButtonPort, LedPort, LogPort, RandomPort, RelayPort, RestartPort, UpdatePort } from "../ports/ports.js";
import type { BoardConfig } from "./board.js";
import type { P256Factory } from "./crypto.js";

export interface PlugIo {
  relay: RelayPort;
  led: LedPort;
  button: ButtonPort;
  /** Restarts the device; undefined where the platform cannot (the simulator restarts in-process). */
  restart: RestartPort | undefined;
  /** The setup page's and captive DNS's ports unless the board says otherwise (80/53; the simulator runs unprivileged). */
  httpPort: number;
  dnsPort: number;
  /** Random bytes (the ESP chips' Math.random reads their hardware RNG). */
  random: RandomPort;
  /**
   * The board's energy meter (src/moddable/meter.ts: real pins, or a simulated chip in the
   * simulator), undefined without one. Built once here, not in the boot (whose stack is the
   * tightest): the core starts and stops it, also across an in-place rebuild.
   */
  meter: MeterDriver | undefined;
}

export type IoFactory = (board: BoardConfig, log: (line: string) => void, clock: MonotonicClock) => PlugIo;

/**
 * What a platform with firmware updates gives the firmware (update-esp32.ts): the other slot and the
 * signature check. The manifest maps "moddable/plug-update" to update-esp32 or update-none, whose
 * `createUpdates` returns this or undefined (saying why on the log).
 */
export interface PlatformUpdates {
  port: UpdatePort;
  p256: P256Factory;
}

export type UpdatesFactory = (log: LogPort) => PlatformUpdates | undefined;

/** Random bytes from Math.random: XS's c_rand() is esp_random() on ESP32 and the RNG register on ESP8266. */
export function mathRandom(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return bytes;
}
