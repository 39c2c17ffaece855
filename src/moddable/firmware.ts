// The firmware on a Moddable board: the board's io, the Moddable adapters and the plug built on
// them. main.ts makes it and boots it.
//
// A class in a preloaded module: its methods stay in flash, and the one instance costs a slot per
// field. main.ts is not preloaded (it imports `preference`, which the simulator's build cannot
// preload), so what it declares lives in RAM: its module scope (a slot per import) and each closure
// it makes with the environment it keeps (docs/MEMORY.md).

import { DEVICE_LIMITS, withOverrides } from "../core/limits.js";
import { createPlug, type Plug, type PlugOptions, type PlugPorts } from "../core/plug.js";
import type { RestartPort } from "../ports/ports.js";
import { createIo } from "moddable/plug-io"; // io-esp or io-sim: the manifest picks one per platform
import { createUpdates } from "moddable/plug-update"; // update-esp32 or update-none: likewise
import { boardConfig, buildSetting, firmwareVersion, ownerPage, ownerPageOn, pin, plugMode, powerOn, unlessNo, updateKey, yes, type BoardConfig } from "./board.js";
import { ModdableCrypto, type P256Factory } from "./crypto.js";
import { ModdableTcpListener, ModdableUdp } from "./net.js";
import { PreferenceStore, type Preferences } from "./store.js";
import { DEFAULT_SNTP, ModdableClock, ModdableTimers } from "./time.js";
import { ModdableWifi } from "./wifi.js";

/** The Kasa port, TCP and UDP. */
export const KASA_PORT = 9999;
/** The UDP port python-kasa's discovery probes for KLAP plugs. */
export const KLAP_DISCOVERY_PORT = 20002;

/** Every part's log: a line on the console. */
function traceLine(line: string): void {
  trace(`${line}\n`);
}

/**
 * KLAP's ports: the discovery socket, and the setup page's listener (port 80 on a device), which
 * KLAP serves on while the setup network is down (a listener opens again when listened on after a
 * close). A function of its own: the constructor's frame does not carry them.
 */
function addKlapPorts(ports: PlugPorts, http: ModdableTcpListener): void {
  ports.klap = http;
  ports.discovery = new ModdableUdp(KLAP_DISCOVERY_PORT);
}

/**
 * Signed updates where the platform has them (an ESP32 built with a second app slot): the slot's
 * port, and the owner's key when the build has one (else every image is refused, said on the log).
 * Returns the signature check for the crypto port, undefined without updates.
 */
function addUpdatePorts(ports: PlugPorts): P256Factory | undefined {
  const updates = createUpdates(traceLine);
  if (updates === undefined) return undefined;
  // the port even without a key: a new image on trial still confirms itself (or rolls back)
  ports.update = updates.port;
  const key = buildSetting("updateKey");
  if (updateKey(key) !== undefined) return updates.p256;
  traceLine(key === undefined ? "firmware updates: this build has no owner's key (npm run keygen, then build again): every image is refused" : "firmware updates: the build's updateKey is not a P-256 public key (130 hex digits, 04 first): every image is refused");
  return undefined;
}

export class Firmware implements RestartPort {
  /**
   * The ports are made once, here, and kept: the boot runs in a turn of its own, not under the
   * frame that made them (the ESP8266's XS stack is 256 slots, and XS copies every free variable a
   * function uses, module imports included, onto the stack when it is called). A rebuild reuses
   * them: the listeners open again when listened on.
   */
  readonly ports: PlugPorts;
  private readonly board: BoardConfig;
  /** The setup page's port, for the options (the page's address names it when it is not 80). */
  private readonly httpPort: number;
  private plug: Plug | null = null;

  constructor(prefs: Preferences) {
    const board = boardConfig();
    const clock = new ModdableClock(board.sntp ?? DEFAULT_SNTP, traceLine);
    const io = createIo(board, traceLine, clock); // with the board's meter, if any
    this.board = board;
    this.httpPort = pin(board.httpPort) ?? io.httpPort;
    const http = new ModdableTcpListener(this.httpPort);
    const ports: PlugPorts = {
      relay: io.relay,
      led: io.led,
      button: io.button,
      clock,
      timers: new ModdableTimers(),
      store: new PreferenceStore(prefs),
      wifi: new ModdableWifi(prefs, traceLine, clock, io.random), // the clock asks SNTP for the time once online
      tcp: new ModdableTcpListener(KASA_PORT),
      udp: new ModdableUdp(KASA_PORT),
      // listened on only while the setup network is up
      http,
      dns: new ModdableUdp(pin(board.dnsPort) ?? io.dnsPort),
      random: io.random,
      // where the platform cannot restart (the simulator), a restart rebuilds the plug in place
      restart: io.restart ?? this,
      log: traceLine,
      meter: io.meter,
    };
    const p256 = addUpdatePorts(ports);
    // a legacy plug (the default) makes nothing of KLAP: no discovery socket, not even the ports'
    // fields for them; and no crypto unless it checks signed updates
    const mode = plugMode(board.mode, board.klap);
    if (mode !== "legacy") addKlapPorts(ports, http);
    else if (plugMode(board.mode) !== "legacy") traceLine(`mode ${String(board.mode)} is not for this chip: KLAP does not fit an ESP8266 (docs/KLAP.md), so the plug runs legacy`);
    // the owner's page needs MD5 and SHA-256: on unless the board turns it off (or runs secure without asking for it)
    if (mode !== "legacy" || p256 !== undefined || ownerPageOn(board.ownerPage, mode)) ports.crypto = new ModdableCrypto(p256);
    this.ports = ports;
  }

  /** Builds the plug and starts it. The options are made in a method of their own, which returns before the boot's deep calls. */
  boot(): void {
    const plug = createPlug(this.ports, this.options());
    this.plug = plug;
    plug.start();
  }

  /** The simulator's restart: the plug stops and is built again on the same ports. */
  restart(): void {
    this.plug?.stop();
    this.boot();
  }

  private options(): PlugOptions {
    const board = this.board;
    return {
      // only with a port to take them (update-none: no updates on this platform)
      updateKey: this.ports.update === undefined ? undefined : updateKey(buildSetting("updateKey")),
      firmwareVersion: firmwareVersion(buildSetting("firmwareVersion")),
      model: board.model,
      powerOn: powerOn(board.powerOn),
      httpPort: this.httpPort,
      limits: withOverrides(DEVICE_LIMITS, board.limits, traceLine),
      presenceLock: unlessNo(board.presenceLock),
      mode: plugMode(board.mode, board.klap),
      ownerPage: ownerPage(board.ownerPage),
      // KLAP listens on the setup page's listener: its port (8080 in the simulator) is the one
      // discovery advertises, and the one the page shares with it
      klapPort: this.httpPort,
      onboarding: {
        setupPassphrase: typeof board.setupPassphrase === "string" ? board.setupPassphrase : undefined,
        openSetup: yes(board.setupOpen),
        fallbackMinutes: pin(board.fallbackMinutes) ?? 0,
      },
    };
  }
}
