// The Moddable platform's composition root: the firmware (firmware.ts) on the board, booted.
//
// This module is not preloaded (it imports `preference`, which the simulator's build cannot preload),
// so it stays this small: everything it declares is in RAM for good.

import Preference from "preference";
import { Firmware } from "./firmware.js";

export default function main(): void {
  const firmware = new Firmware(Preference);
  // The boot runs in a turn of its own, not under this frame: the stack is 256 slots on an ESP8266.
  firmware.ports.timers.after(0, () => firmware.boot());
}
