// The Moddable platform's composition root: the board's io, the Moddable adapters and the core.

import Preference from "preference";
import { DEVICE_LIMITS, withOverrides } from "../core/limits.js";
import { createPlug, type Plug, type PlugOptions, type PlugPorts } from "../core/plug.js";
import type { RestartPort } from "../ports/ports.js";
import { createIo } from "moddable/plug-io"; // io-esp or io-sim: the manifest picks one per platform
import { boardConfig, pin, powerOn, unlessNo, yes } from "./board.js";
import { ModdableTcpListener, ModdableUdp } from "./net.js";
import { PreferenceStore } from "./store.js";
import { DEFAULT_SNTP, ModdableClock, ModdableTimers } from "./time.js";
import { ModdableWifi } from "./wifi.js";

/** The Kasa port, TCP and UDP. */
export const KASA_PORT = 9999;

export default function main(): void {
  const log = (line: string) => trace(`${line}\n`);
  const board = boardConfig();
  const clock = new ModdableClock();
  const io = createIo(board, log, clock); // with the board's meter, if any
  const wifi = new ModdableWifi(Preference, log);
  wifi.onOnline = (online) => {
    if (online) clock.syncFrom(board.sntp ?? DEFAULT_SNTP, log);
  };

  let plug: Plug | null = null;
  // Where the platform cannot restart (the simulator), a restart rebuilds the plug in place.
  const rebuild: RestartPort = {
    restart() {
      plug?.stop();
      boot();
    },
  };
  // The ports are made here and the options in a function of their own, and the boot runs in a turn
  // of its own (below), not under this frame: the ESP8266's XS stack is 256 slots, and XS copies every
  // free variable a function uses (module imports included) onto the stack when it is called, so
  // `boot`, under which the whole boot runs, uses as few as it can. (A rebuild reuses the ports: the
  // listeners open again when listened on.)
  const ports: PlugPorts = {
    relay: io.relay,
    led: io.led,
    button: io.button,
    clock,
    timers: new ModdableTimers(),
    store: new PreferenceStore(Preference),
    wifi,
    tcp: new ModdableTcpListener(KASA_PORT),
    udp: new ModdableUdp(KASA_PORT),
    // listened on only while the setup network is up
    http: new ModdableTcpListener(pin(board.httpPort) ?? io.httpPort),
    dns: new ModdableUdp(pin(board.dnsPort) ?? io.dnsPort),
    random: io.random,
    restart: io.restart ?? rebuild,
    log,
    meter: io.meter,
  };
  const options = (): PlugOptions => ({
    model: board.model,
    powerOn: powerOn(board.powerOn),
    httpPort: pin(board.httpPort) ?? io.httpPort,
    limits: withOverrides(DEVICE_LIMITS, board.limits, log),
    presenceLock: unlessNo(board.presenceLock),
    onboarding: {
      setupPassphrase: typeof board.setupPassphrase === "string" ? board.setupPassphrase : undefined,
      openSetup: yes(board.setupOpen),
      fallbackMinutes: pin(board.fallbackMinutes) ?? 0,
    },
  });
  const boot = () => {
    plug = createPlug(ports, options());
    plug.start();
  };
  ports.timers.after(0, boot);
}
