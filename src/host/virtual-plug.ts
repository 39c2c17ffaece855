// The host platform's composition root: one virtual plug on a TCP+UDP port pair, with its state in
// a directory. `npm start` runs one (src/host/main.ts); the integration tests run several. A UDP
// port that cannot be bound (Kasa discovery, the captive DNS) is logged and left out: the plug runs
// without it. A TCP port that cannot be bound stops the start (without it there is no plug).

import { randomBytes } from "node:crypto";
import { isIPv6 } from "node:net";
import { createPlug, type Plug, type PlugMode } from "../core/plug.js";
import type { PowerOnPolicy } from "../core/device/device.js";
import { escapeControls, HOST_LIMITS, type Limits } from "../core/limits.js";
import type { OnboardingOptions } from "../core/onboarding/onboarding.js";
import { SafeStore } from "../core/storage/safe-store.js";
import { IDENTITY_KEYS, KEY, Settings } from "../core/storage/settings.js";
import { DEFAULT_PERSONALITY, findPersonality } from "../core/device/personality.js";
import { behindRelay, constantLoad, DEFAULT_MAINS_VOLTS, simulatedMeter, type LoadProfile, type SimulatedChipModel } from "../core/energy/meter/simulate.js";
import type { ClockPort, DatagramPort, LogPort, TcpListenerPort } from "../ports/ports.js";
import { nodeCrypto } from "./crypto.js";
import { KlapOwner } from "../core/klap/owner.js";
import { HOST_FIRMWARE_VERSION, HostUpdate, type HostImage } from "./update.js";
import { TerminalLed, TerminalRelay, VirtualButton } from "./devices.js";
import { NodeTcpListener, NodeUdp } from "./net.js";
import { FileStore, lockStateDir, secureStateDir, storedSetting } from "./store.js";
import { METERING_MODELS } from "./load.js";
import { HostClock, HostTimers } from "./time.js";
import { DEFAULT_NETWORKS, VirtualWifi, type VirtualNetwork } from "./wifi.js";

export const DEFAULT_PORT = 9999;
export const DEFAULT_BIND = "127.0.0.1";
/** The setup page's port (80 needs root); when it is taken (another plug's), a free one (printed). */
export const DEFAULT_HTTP_PORT = 8080;
/** KLAP's HTTP port in the secure and both modes (80 needs root); when it is taken, a free one (printed). */
export const DEFAULT_KLAP_PORT = 8880;
/** KLAP discovery's UDP port: python-kasa sends its probe there. */
export const DEFAULT_DISCOVERY_PORT = 20002;
/** How often the power is looked at for the terminal (with a load), and the least time between two power lines (ms). */
export const POWER_CHECK_MS = 1000;
export const POWER_LINE_MS = 5000;

export interface VirtualPlugOptions {
  /** TCP and UDP port (0: any free port, the same number for both). */
  port?: number;
  bind?: string;
  /** Personality; when given it replaces the one stored in the state directory. */
  model?: string;
  stateDir: string;
  powerOn?: PowerOnPolicy;
  /** Where log lines go (default: the terminal, each line with the time and the plug's address: terminalLine). */
  log?: LogPort;
  /** How long a reboot keeps the plug off the network, ms. */
  rebootMs?: number;
  /** The networks the virtual radio sees (default: three built-in ones). */
  networks?: readonly VirtualNetwork[];
  /** Start unprovisioned: Wi-Fi and settings wiped as by a factory reset, identity kept. */
  factory?: boolean;
  /** The setup page's port (0: any free port; default 8080, or any free port when 8080 is taken). */
  httpPort?: number;
  /** A port for the captive-portal DNS (0: any free port); none when undefined. */
  dnsPort?: number;
  onboarding?: OnboardingOptions;
  /** Start with no time source: rule changes answer -11 until a client sets the time. */
  noTime?: boolean;
  /** The wall clock (default: the machine's); tests shift it to reach a rule's minute quickly. */
  clock?: ClockPort;
  /** Resource bounds (default HOST_LIMITS). */
  limits?: Limits;
  /** The physical-presence lock (default on; `button` held 2-5 s opens it for one command). */
  presenceLock?: boolean;
  /**
   * What is plugged in, for a simulated energy meter (`--load`): watts over time (t in ms from the
   * plug's first boot, so the load keeps its timeline across reboots), measured by `chip` (default
   * CSE7766) through the real driver. It draws power only while the relay is on. The model must meter.
   * Without it a metering model's chip sees DEFAULT_MAINS_VOLTS with nothing plugged in (0 W), as a
   * real plug reads the mains voltage whatever is plugged in.
   */
  load?: { profile: LoadProfile; chip?: SimulatedChipModel };
  /** Log each request's client, module and method (never its parameters), through the plug's log limiter. */
  verbose?: boolean;
  /** The local protocols (default legacy): secure closes `port` and serves KLAP; both serves all. */
  mode?: PlugMode;
  /** The owner's KLAP credentials, stored (as their hash) at the first boot; checked by the command line. */
  credentials?: { username: string; password: string };
  /** KLAP's HTTP port (0: any free port; default DEFAULT_KLAP_PORT, or any free port when it is taken). */
  klapPort?: number;
  /** KLAP discovery's UDP port (0: any free port; default DEFAULT_DISCOVERY_PORT; without it when it cannot be bound). */
  discoveryPort?: number;
  /** The owner's page once joined, on the setup page's port (PlugOptions.ownerPage: default on in the legacy and both modes). */
  ownerPage?: boolean;
  /**
   * The owner's public key for signed updates (readUpdateKey: `--update-key FILE`); absent: every
   * update is refused. The firmware slots are files in the state directory (update.ts).
   */
  updateKey?: Uint8Array;
  /** How long an updated image has to confirm itself (default UPDATE_CONFIRM_MS; tests shorten it). */
  updateConfirmMs?: number;
}

/** A line for the terminal: the local time (hh:mm:ss), the plug's address, the line with its control characters written out. */
export function terminalLine(when: Date, address: string, port: number, line: string): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(when.getHours())}:${two(when.getMinutes())}:${two(when.getSeconds())} [plug ${address}:${port}] ${escapeControls(line)}`;
}

/**
 * When the power a load draws is worth a line: it moved by more than 2 W and more than 5 % since
 * the last line, and the last line is POWER_LINE_MS old (a load that changes all the time gets a
 * line every few seconds, no more). `check` takes each reading and returns the line, if any.
 */
export class PowerWatch {
  private shown = 0;
  private shownAt = -Infinity;

  check(power_mw: number, voltage_mv: number, current_ma: number, now: number): string | undefined {
    const change = Math.abs(power_mw - this.shown);
    if (change <= 2000 || change <= this.shown * 0.05 || now - this.shownAt < POWER_LINE_MS) return undefined;
    this.shown = power_mw;
    this.shownAt = now;
    return `power ${(power_mw / 1000).toFixed(1)} W (${(current_ma / 1000).toFixed(3)} A at ${(voltage_mv / 1000).toFixed(1)} V)`;
  }
}

/** Why a load cannot be simulated on this plug. */
function needsMeter(model: string, stateDir: string): string {
  return `a load needs a model with an energy meter (${METERING_MODELS.join(" or ")}); this plug is an ${model} (state in ${stateDir}): choose one with --model`;
}

/** Nothing plugged in: the meter reads the mains voltage, no current. */
const IDLE: NonNullable<VirtualPlugOptions["load"]> = Object.freeze({ profile: constantLoad(0, DEFAULT_MAINS_VOLTS) });

/** A UDP port that could not be bound, or was not asked for. */
const noUdp: DatagramPort = { listen() {}, send() {}, close() {} };

/** The Kasa port in secure mode: not bound at all. */
const noTcp: TcpListenerPort = { listen() {}, close() {} };

export class VirtualPlug {
  readonly button = new VirtualButton();
  relay!: TerminalRelay;
  led!: TerminalLed;
  plug!: Plug;
  restarts = 0;
  wifi!: VirtualWifi;
  private tcp: NodeTcpListener | null = null;
  private udp: NodeUdp | null = null;
  private klap: NodeTcpListener | null = null;
  private discovery: NodeUdp | null = null;
  /** KLAP's HTTP port and discovery's UDP port once bound (0: none). */
  klapPort = 0;
  discoveryPort = 0;
  private http!: NodeTcpListener;
  private dns: NodeUdp | null = null;
  httpPort = 0;
  dnsPort = 0;
  private timers = new HostTimers();
  /** The state directory's firmware slots and bootloader data (update.ts). */
  firmware!: HostUpdate;
  /** The image this boot runs (the bootloader's choice: factory, a slot, or a rollback). */
  running!: HostImage;
  private stopped = false;
  /** The wall and monotonic clock, the same across reboots. */
  private readonly clock: ClockPort;
  /** ClockPort.monotonic() when the load began (the first boot). */
  private loadOrigin: number | undefined;
  private pendingBoot: NodeJS.Timeout | null = null;
  /** Where lines go in the end. */
  private readonly out: LogPort;
  /** Lines held while the plug first starts, to be shown after its identity line with the host's own (introduce). */
  private held: string[] | null = null;
  private readonly power = new PowerWatch();
  /** Every line of the plug and of its host adapters. */
  readonly log: LogPort = (line) => {
    if (this.held !== null) this.held.push(line);
    else this.out(line);
  };

  private constructor(private readonly options: VirtualPlugOptions, public port: number) {
    const bind = options.bind ?? DEFAULT_BIND;
    // escaped here too: the host's own adapters log names from files and the network (a saved SSID)
    // (in secure mode the Kasa port is closed: the plug is known by its KLAP port)
    this.out = options.log ?? ((line) => console.log(terminalLine(new Date(), bind, options.mode === "secure" ? this.klapPort : this.port, line)));
    this.clock = options.clock ?? new HostClock(!options.noTime);
  }

  static async start(options: VirtualPlugOptions): Promise<VirtualPlug> {
    const vp = new VirtualPlug(options, options.port ?? DEFAULT_PORT);
    vp.httpPort = options.httpPort ?? DEFAULT_HTTP_PORT;
    vp.dnsPort = options.dnsPort ?? 0;
    vp.klapPort = options.klapPort ?? DEFAULT_KLAP_PORT;
    vp.discoveryPort = options.discoveryPort ?? DEFAULT_DISCOVERY_PORT;
    // one plug per state directory (before anything in it is read or wiped); owner-only files
    secureStateDir(options.stateDir);
    vp.unlock = lockStateDir(options.stateDir);
    try {
      // a load needs a meter: known before the plug boots (and prints its setup passphrase)
      const personality = findPersonality(options.model ?? storedSetting(options.stateDir, KEY.model) ?? "") ?? findPersonality(DEFAULT_PERSONALITY)!;
      if (options.load !== undefined && personality.emeter === "none") throw new Error(needsMeter(personality.key, options.stateDir));
      if (options.factory) {
        // What a 10-second button hold does, before the first boot.
        const store = new FileStore(options.stateDir, vp.log);
        new Settings(new SafeStore(store)).wipe(IDENTITY_KEYS); // both slots of each setting, identity kept
        new VirtualWifi(options.stateDir, vp.log).forget();
      }
      await vp.boot(true);
    } catch (e) {
      vp.unlock(); // what was bound is let go already (bindSockets)
      throw e;
    }
    const personality = vp.plug.context.personality;
    if (options.load !== undefined && personality.emeter === "none") {
      vp.stop();
      throw new Error(needsMeter(personality.key, options.stateDir));
    }
    return vp;
  }

  get address(): string {
    return this.options.bind ?? DEFAULT_BIND;
  }

  /** Stops for good: sockets closed, timers cancelled, settings still waiting written, the state directory let go. */
  stop(): void {
    this.stopped = true;
    if (this.pendingBoot !== null) clearTimeout(this.pendingBoot);
    this.shutdown();
    this.unlock();
    this.unlock = () => {};
  }

  /** Releases the state directory's lock (lockStateDir). */
  private unlock: () => void = () => {};

  /** Resolves at the next completed boot after a reboot/reset (for tests). */
  waitForBoot(): Promise<void> {
    return new Promise((resolve) => this.bootWaiters.push(resolve));
  }

  private bootWaiters: (() => void)[] = [];

  private async bindSockets(): Promise<void> {
    const bind = this.address;
    // Ports picked by the system (0) are kept across restarts, as a device keeps 80 and 53. The
    // default port taken (by another plug on this machine): any free one, printed.
    this.http = await NodeTcpListener.open(this.httpPort, bind).catch((e: NodeJS.ErrnoException) => {
      if (this.options.httpPort !== undefined || (e.code !== "EADDRINUSE" && e.code !== "EACCES")) throw e;
      return NodeTcpListener.open(0, bind);
    });
    this.httpPort = this.http.port;
    if (this.options.dnsPort !== undefined) {
      this.dns = await this.udpOrNone(this.dnsPort, "captive DNS off");
      if (this.dns !== null) this.dnsPort = this.dns.port;
    }
    if (this.mode !== "legacy") await this.bindKlap();
    // secure mode: the Kasa port is not even bound (connections to it are refused, datagrams unanswered)
    if (this.mode === "secure") return;
    for (let attempt = 0; ; attempt++) {
      const tcp = await NodeTcpListener.open(this.port, bind).catch((e: unknown) => {
        // no Kasa port, no plug: let go of what was bound for it
        this.http.unbind();
        this.dns?.unbind();
        this.dns = null;
        this.unbindKlap();
        throw e;
      });
      // An ephemeral TCP port whose UDP twin is taken: try another pair, a few times.
      const retry = this.port === 0 && attempt < 20;
      this.udp = await this.udpOrNone(tcp.port, "discovery off", retry);
      if (this.udp === null && retry) {
        tcp.unbind();
        continue;
      }
      this.tcp = tcp;
      this.port = tcp.port;
      return;
    }
  }

  private get mode(): PlugMode {
    return this.options.mode ?? "legacy";
  }

  /** KLAP's listener (the default port taken: any free one) and discovery's UDP port (none when it cannot be bound). */
  private async bindKlap(): Promise<void> {
    this.klap = await NodeTcpListener.open(this.klapPort, this.address).catch((e: NodeJS.ErrnoException) => {
      if (this.options.klapPort === undefined && (e.code === "EADDRINUSE" || e.code === "EACCES")) return NodeTcpListener.open(0, this.address);
      throw e;
    }).catch((e: unknown) => {
      this.http.unbind();
      this.dns?.unbind();
      this.dns = null;
      throw e;
    });
    this.klapPort = this.klap.port;
    this.discovery = await this.udpOrNone(this.discoveryPort, "KLAP discovery off");
    if (this.discovery !== null) this.discoveryPort = this.discovery.port;
  }

  private unbindKlap(): void {
    this.klap?.unbind();
    this.discovery?.unbind();
    this.klap = this.discovery = null;
  }

  /** The UDP port bound, or null when it cannot be (logged with `without`, unless `quietly`). */
  private async udpOrNone(port: number, without: string, quietly = false): Promise<NodeUdp | null> {
    try {
      return await NodeUdp.open(port, this.address);
    } catch (e) {
      if (!quietly) this.log(`udp ${port}: ${(e as Error).message}; ${without}`);
      return null;
    }
  }

  /** The Kasa port's accepted sockets not let go yet, and the bytes written to them that their clients have not taken. */
  kasaSockets(): { open: number; unsent: number } {
    return { open: this.tcp?.openSockets ?? 0, unsent: this.tcp?.unsentBytes ?? 0 };
  }

  private async boot(first = false): Promise<void> {
    await this.bindSockets();
    const store = new FileStore(this.options.stateDir, this.log);
    this.timers = new HostTimers();
    // the bootloader first: which image this boot runs (a new one on trial, a rollback)
    this.firmware = new HostUpdate(this.options.stateDir, HOST_FIRMWARE_VERSION, this.log);
    this.running = this.firmware.boot();
    // the relay's state at boot is in the identity line: a line of its own only for each change after it
    this.relay = new TerminalRelay(this.log, true);
    this.led = new TerminalLed();
    this.wifi = new VirtualWifi(this.options.stateDir, this.log, this.options.networks ?? DEFAULT_NETWORKS, this.address);
    this.plug = createPlug(
      {
        relay: this.relay,
        led: this.led,
        button: this.button,
        clock: this.clock,
        timers: this.timers,
        meter: this.meter(),
        store,
        wifi: this.wifi,
        tcp: this.tcp ?? noTcp,
        udp: this.udp ?? noUdp,
        http: this.http,
        dns: this.dns ?? noUdp,
        random: (n) => new Uint8Array(randomBytes(n)),
        update: this.firmware,
        restart: { restart: () => this.reboot() },
        log: this.log,
        crypto: nodeCrypto, // (KLAP's, and the owner's page's in every mode)
        ...(this.mode === "legacy" ? {} : { klap: this.klap!, discovery: this.discovery ?? undefined }),
      },
      {
        model: this.options.model,
        forceModel: this.options.model !== undefined,
        powerOn: this.options.powerOn,
        onboarding: this.options.onboarding,
        httpPort: this.httpPort,
        limits: this.options.limits ?? HOST_LIMITS,
        presenceLock: this.options.presenceLock,
        verbose: this.options.verbose,
        mode: this.mode,
        klapPort: this.klapPort,
        ownerPage: this.options.ownerPage,
        updateKey: this.options.updateKey,
        firmwareVersion: this.running.version,
        updateConfirmMs: this.options.updateConfirmMs,
      },
    );
    const credentials = this.options.credentials;
    if (first && credentials !== undefined) {
      const problem = this.owner()?.store(credentials.username, credentials.password);
      if (problem !== undefined) {
        this.shutdown();
        throw new Error(`the credentials could not be kept: ${problem}`);
      }
    }
    if (first) this.held = [];
    try {
      this.plug.start();
    } finally {
      this.relay.quiet = false;
      if (first) this.introduce();
    }
    if (this.options.load !== undefined && this.plug.context.energy !== undefined) this.timers.every(POWER_CHECK_MS, () => this.checkPower());
    const waiters = this.bootWaiters;
    this.bootWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * The first start's lines: the plug's identity (the core's first line), then where it listens and
   * how to talk to it, then what the plug said after its identity (the setup network, the LED).
   */
  private introduce(): void {
    const held = this.held ?? [];
    this.held = null;
    const identity = held.findIndex((line) => / ready, relay o(n|ff)$/.test(line)) + 1;
    for (const line of held.slice(0, identity)) this.out(line);
    const host = this.address === "0.0.0.0" || this.address === "::" ? "127.0.0.1" : this.address;
    const target = isIPv6(host) ? `[${host}]:${this.port}` : `${host}:${this.port}`;
    const mode = this.mode;
    const legacy = mode === "secure" ? "the Kasa port closed (secure mode)" : `listening on TCP and UDP ${this.address}:${this.port}`;
    this.out(`${legacy}; setup page (during setup) on port ${this.httpPort}; state in ${this.options.stateDir}`);
    if (mode !== "secure") this.out(`talk to it: kasa --host ${host} --port ${this.port} --type plug state (pip install python-kasa), or npx tplink-smarthome-api getSysInfo ${target}`);
    if (mode !== "legacy") {
      const discovery = this.discovery !== null ? `discovery on UDP ${this.discoveryPort}` : "no discovery";
      const owner = this.plug.context.owner?.set() ? "credentials set" : "NO credentials yet: every client is refused until --credentials, the setup page or cnCloud.bind sets them";
      this.out(`KLAP on TCP ${this.address}:${this.klapPort}, ${discovery}; ${owner}`);
      this.out(`talk to it: kasa --host ${host} --username U --password P state${this.klapPort === 80 ? "" : ` (kasa discover finds the port; or a DeviceConfig with http_port ${this.klapPort})`}`);
    }
    if (this.ownerPageOn) {
      const owner = this.owner()?.set() ? "the owner's credentials" : "NO credentials yet: set them on the setup page or with --credentials";
      this.out(`owner's page (once joined): http://${isIPv6(host) ? `[${host}]` : host}:${this.httpPort}/ (${owner})`);
    }
    for (const line of held.slice(identity)) this.out(line);
  }

  /** Whether the plug serves the owner's page (createPlug's default: not in secure mode unless asked). */
  get ownerPageOn(): boolean {
    return this.options.ownerPage ?? this.mode !== "secure";
  }

  /** The owner's credentials: KLAP's in its modes, the owner's page's (the same settings key) otherwise; none when neither is on. */
  owner(): KlapOwner | undefined {
    return this.plug.context.owner ?? (this.ownerPageOn ? new KlapOwner(this.plug.context.settings, nodeCrypto) : undefined);
  }

  /** The load's power, when it changed enough to be worth a line (PowerWatch). */
  private checkPower(): void {
    const r = this.plug.context.energy?.reading();
    if (r === undefined) return;
    const line = this.power.check(r.power_mw, r.voltage_mv, r.current_ma, this.clock.monotonic());
    if (line !== undefined) this.log(line);
  }

  /** A simulated chip on the load, behind the relay, with its driver (a new one at each boot, like the device's). */
  private meter() {
    // (made for every model; a model without a meter never starts it)
    const load = this.options.load ?? IDLE;
    const origin = (this.loadOrigin ??= this.clock.monotonic());
    const sinceBoot = this.clock.monotonic() - origin;
    const relay = this.relay;
    const profile = load.profile;
    return simulatedMeter(load.chip ?? "CSE7766", behindRelay((t) => profile(t + sinceBoot), () => relay.on), this.timers, this.clock);
  }

  private shutdown(): void {
    this.plug?.stop();
    this.timers.cancelAll();
    this.wifi?.stopAttempt();
    this.tcp?.unbind();
    this.udp?.unbind();
    this.http?.unbind();
    this.dns?.unbind();
    this.udp = this.dns = null;
    this.unbindKlap();
  }

  /** A reboot as the plug would do it: off the network for a moment, then back with its settings. */
  private reboot(): void {
    if (this.stopped) return;
    this.restarts++;
    this.shutdown();
    this.log("restarting");
    this.pendingBoot = setTimeout(() => {
      this.pendingBoot = null;
      if (!this.stopped) this.boot().catch((e: Error) => this.log(`restart failed: ${e.message}`));
    }, this.options.rebootMs ?? 1000);
  }
}
