// Where the Moddable SDK has no firmware update (ESP8266, the simulator): the manifest maps
// "moddable/plug-update" to this module on those platforms (update-esp32.ts on the esp32 platform,
// which also tells io-esp.ts the level a restart left on the relay's pin).
// The SDK's `embedded:update` is ESP32 (and macOS) only; an ESP8266's 1 MB of flash could not hold
// a second image anyway: it is updated by serial flashing (docs: "Updating a plug", what a reflash keeps).

import type { UpdatesFactory } from "./io.js";

export const createUpdates: UpdatesFactory = (log) => {
  log("firmware updates over the air: none on this platform (ESP32 only): flash a new firmware by serial");
  return undefined;
};

/** Not known here (ESP8266, the simulator): the relay opens off. */
export function drivenLevel(_pin: number): number {
  return -1;
}
