// The Moddable platform's composition root: the board's io, the Moddable adapters and the core.

import Preference from "preference";
import { createPlug, type Plug } from "../core/plug.js";
import type { RestartPort } from "../ports/ports.js";
import { createIo } from "plug-io";
import { boardConfig } from "./board.js";
import { ModdableTcpListener, ModdableUdp } from "./net.js";
import { PreferenceStore } from "./store.js";
import { DEFAULT_SNTP, ModdableClock, ModdableTimers } from "./time.js";
import { ModdableWifi } from "./wifi.js";

/** The Kasa port, TCP and UDP. */
export const KASA_PORT = 9999;

export default function main(): void {
  const log = (line: string) => trace(`${line}\n`);
  const board = boardConfig();
  const io = createIo(board, log);
  const clock = new ModdableClock();
  const wifi = new ModdableWifi(Preference, log);
  wifi.onOnline = (online) => {
    if (online) clock.syncFrom(board.sntp ?? DEFAULT_SNTP, log);
  };

  let plug: Plug | null = null;
  // Where the platform cannot restart (the simulator), a restart rebuilds the plug in place.
  const restart: RestartPort = io.restart ?? {
    restart() {
      plug?.stop();
      boot();
    },
  };
  const boot = () => {
    plug = createPlug(
      {
        relay: io.relay,
        led: io.led,
        button: io.button,
        clock,
        timers: new ModdableTimers(),
        store: new PreferenceStore(Preference),
        wifi,
        tcp: new ModdableTcpListener(KASA_PORT),
        udp: new ModdableUdp(KASA_PORT),
        restart,
        log,
      },
      { model: board.model },
    );
    plug.start();
  };
  boot();
  wifi.rejoin();
}
