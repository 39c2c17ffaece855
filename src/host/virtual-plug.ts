// The host platform's composition root: one virtual plug on a TCP+UDP port pair, with its state in
// a directory. `npm start` runs one (src/host/main.ts); the integration tests run several.

import { createPlug, type Plug } from "../core/plug.js";
import type { PowerOnPolicy } from "../core/device.js";
import type { LogPort } from "../ports/ports.js";
import { TerminalLed, TerminalRelay, VirtualButton } from "./devices.js";
import { NodeTcpListener, NodeUdp } from "./net.js";
import { FileStore } from "./store.js";
import { HostClock, HostTimers } from "./time.js";
import { VirtualWifi } from "./wifi.js";

export const DEFAULT_PORT = 9999;
export const DEFAULT_BIND = "127.0.0.1";

export interface VirtualPlugOptions {
  /** TCP and UDP port (0: any free port, the same number for both). */
  port?: number;
  bind?: string;
  /** Personality; when given it replaces the one stored in the state directory. */
  model?: string;
  stateDir: string;
  powerOn?: PowerOnPolicy;
  /** Where log lines go (default: the terminal, prefixed with the plug's address). */
  log?: LogPort;
  /** How long a reboot keeps the plug off the network, ms. */
  rebootMs?: number;
}

export class VirtualPlug {
  readonly button = new VirtualButton();
  relay!: TerminalRelay;
  led!: TerminalLed;
  plug!: Plug;
  restarts = 0;
  private tcp!: NodeTcpListener;
  private udp!: NodeUdp;
  private timers = new HostTimers();
  private stopped = false;
  private pendingBoot: NodeJS.Timeout | null = null;
  readonly log: LogPort;

  private constructor(private readonly options: VirtualPlugOptions, public port: number) {
    const bind = options.bind ?? DEFAULT_BIND;
    this.log = options.log ?? ((line) => console.log(`[plug ${bind}:${this.port}] ${line}`));
  }

  static async start(options: VirtualPlugOptions): Promise<VirtualPlug> {
    const vp = new VirtualPlug(options, options.port ?? DEFAULT_PORT);
    await vp.boot();
    return vp;
  }

  get address(): string {
    return this.options.bind ?? DEFAULT_BIND;
  }

  /** Stops for good: sockets closed, timers cancelled. Settings are already on disk. */
  stop(): void {
    this.stopped = true;
    if (this.pendingBoot !== null) clearTimeout(this.pendingBoot);
    this.shutdown();
  }

  /** Resolves at the next completed boot after a reboot/reset (for tests). */
  waitForBoot(): Promise<void> {
    return new Promise((resolve) => this.bootWaiters.push(resolve));
  }

  private bootWaiters: (() => void)[] = [];

  private async bindSockets(): Promise<void> {
    const bind = this.address;
    for (let attempt = 0; ; attempt++) {
      const tcp = await NodeTcpListener.open(this.port, bind);
      try {
        this.udp = await NodeUdp.open(tcp.port, bind);
        this.tcp = tcp;
        this.port = tcp.port;
        return;
      } catch (e) {
        tcp.close();
        // An ephemeral TCP port whose UDP twin is taken: try another pair.
        if (this.port !== 0 || attempt >= 20) throw e;
      }
    }
  }

  private async boot(): Promise<void> {
    await this.bindSockets();
    const store = new FileStore(this.options.stateDir, this.log);
    this.timers = new HostTimers();
    this.relay = new TerminalRelay(this.log);
    this.led = new TerminalLed(this.log);
    this.plug = createPlug(
      {
        relay: this.relay,
        led: this.led,
        button: this.button,
        clock: new HostClock(),
        timers: this.timers,
        store,
        wifi: new VirtualWifi(this.options.stateDir, this.log),
        tcp: this.tcp,
        udp: this.udp,
        restart: { restart: () => this.reboot() },
        log: this.log,
      },
      { model: this.options.model, forceModel: this.options.model !== undefined, powerOn: this.options.powerOn },
    );
    this.plug.start();
    const waiters = this.bootWaiters;
    this.bootWaiters = [];
    for (const w of waiters) w();
  }

  private shutdown(): void {
    this.plug?.stop();
    this.timers.cancelAll();
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
