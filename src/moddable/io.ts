// What each platform's io module (io-esp.ts on ESP8266/ESP32, io-sim.ts in the simulator) provides:
// the manifest maps the module name "plug-io" to one of them.

import type { ButtonPort, LedPort, RelayPort, RestartPort } from "../ports/ports.js";
import type { BoardConfig } from "./board.js";

export interface PlugIo {
  relay: RelayPort;
  led: LedPort;
  button: ButtonPort;
  /** Restarts the device; undefined where the platform cannot (the simulator restarts in-process). */
  restart: RestartPort | undefined;
}

export type IoFactory = (board: BoardConfig, log: (line: string) => void) => PlugIo;

/** How long the button must be stable before a change counts (software debounce), ms. */
export const DEBOUNCE_MS = 50;
