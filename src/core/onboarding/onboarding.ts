// The Wi-Fi state machine: how a plug gets onto the user's network and stays there.
//
//   unprovisioned ──boot──▶ setup ──credentials──▶ received ─▶ joining ──connected──▶ joined
//                            ▲  ▲                     │                   │  ▲
//                            │  └──failed / timeout───┘                lost  connected
//                   5 s hold │                                              ▼  │
//                            └────────────(opt-in fallback only)──────── offline (retry, backoff)
//
// New credentials are saved only once they worked: a failed attempt leaves the saved network (and
// everything else) as it was and reopens the setup network with the reason. A provisioned plug never
// opens its setup network by itself unless the fallback was opted into. The setup network closes
// after SETUP_IDLE_MS without a sign from one of its clients (an association, the setup page, captive
// DNS, a Kasa client connected over it; nothing from the home network counts), and a provisioned
// plug's SETUP_MAX_MS after it opened, whatever its clients do. What survives a restart: the saved
// network (the radio keeps it), the setup passphrase and the last attempt's outcome (settings).

import type { LogPort, RandomPort, TimerHandle, TimerPort, WifiCredentials, WifiEvent, WifiPort } from "../../ports/ports.js";
import { KEY, type Settings } from "../storage/settings.js";
import { JOIN_TIMEOUT_MS, RADIO_SWITCH_DELAY_MS, RECONNECT_FIRST_MS, RECONNECT_MAX_MS, SETUP_IDLE_MS, SETUP_MAX_MS } from "../timing.js";
import { validPassphrase } from "./credentials.js";

export type WifiState = "unprovisioned" | "setup" | "received" | "joining" | "joined" | "offline";

export interface OnboardingOptions {
  /** A setup passphrase chosen at build time (board or mcconfig config); at least 12 characters. */
  setupPassphrase?: string;
  /** Opt-in: an open setup network, for the stock Kasa app. Anyone in range can then read the credentials sent. */
  openSetup?: boolean;
  /** Opt-in fallback: minutes offline after which a provisioned plug opens its setup network; 0 (default) never. */
  fallbackMinutes?: number;
}

export interface OnboardingPorts {
  wifi: WifiPort;
  timers: TimerPort;
  random: RandomPort;
  /** Lines a client can cause (credentials received, joins): the plug's limited log. */
  log: LogPort;
  /** The setup network's lines, which the owner must see whatever a client does (its passphrase): `log` when absent. */
  notice?: LogPort;
  /** Monotonic milliseconds. */
  now(): number;
}

/** The shortest setup passphrase accepted from a build configuration. */
export const MIN_SETUP_PASSPHRASE = 12;

/** 32 symbols without look-alikes (no l, o, 0, 1): a random byte's low 5 bits pick one without bias. */
const PASSPHRASE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";

/** The outcome of the last attempt with new credentials, as the setup page and the log say it. */
export const JOIN_RESULT = Object.freeze({
  joined: "joined",
  auth: "wrong password",
  notFound: "network not found",
  timeout: "no answer from the network",
  other: "could not join",
});

export interface LastAttempt {
  ssid: string;
  result: string;
}

/** What hears of the state changes: an object, not a function, so that the plug's wiring can be a class (plug.ts). */
export interface OnboardingListener {
  /** After every state change (the LED and the setup page follow it). */
  onboardingChanged(state: WifiState): void;
}

export class Onboarding {
  state: WifiState = "unprovisioned";
  /** True while the last attempt with new credentials failed and the plug waits in setup for better ones. */
  lastFailed = false;
  listener: OnboardingListener | undefined;
  /** The setup network's name: "TP-LINK_Smart Plug_XXXX". */
  readonly setupSsid: string;
  private readonly passphrase: string;
  private pending: WifiCredentials | undefined;
  private online = false;
  private accessPointUp = false;
  private joinTimer: TimerHandle | undefined;
  private idleTimer: TimerHandle | undefined;
  /** A provisioned plug's SETUP_MAX_MS from opening the setup network. */
  private maxTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private retryMs = RECONNECT_FIRST_MS;
  private offlineSince = -1;
  private readonly fallbackMs: number;
  private readonly open: boolean;

  /** A new passphrase that start() stores. */
  private passphraseToStore = false;

  constructor(
    private readonly ports: OnboardingPorts,
    private readonly settings: Settings,
    setupSsid: string,
    options: OnboardingOptions = {},
  ) {
    this.setupSsid = setupSsid;
    this.open = options.openSetup === true;
    const minutes = options.fallbackMinutes ?? 0;
    this.fallbackMs = minutes > 0 ? minutes * 60000 : 0;
    this.passphrase = this.open ? "" : this.loadPassphrase(options.setupPassphrase);
  }

  /** At boot: a provisioned plug joins its network, an unprovisioned one opens its setup network. */
  start(): void {
    // a passphrase made at construction is stored here, not under createPlug's frame: the first
    // boot's deepest stack was that write (docs/MEMORY.md)
    if (this.passphraseToStore) {
      this.passphraseToStore = false;
      if (!this.settings.put(KEY.setupKey, this.passphrase)) this.ports.log("the setup passphrase could not be stored: a new one is made at the next boot");
    }
    this.ports.wifi.listen((event, detail) => this.event(event, detail));
    if (this.provisioned()) this.join();
    else this.openSetup("not provisioned");
  }

  stop(): void {
    this.cancel();
    this.ports.wifi.listen(() => {});
  }

  provisioned(): boolean {
    return this.ports.wifi.saved() !== undefined;
  }

  /**
   * New, validated credentials (from netif.set_stainfo or the setup page): the radio leaves the
   * setup network and tries them RADIO_SWITCH_DELAY_MS later, once the answer has reached the client.
   */
  received(credentials: WifiCredentials): void {
    this.cancel();
    this.pending = credentials;
    this.ports.log(`credentials received for "${credentials.ssid}"`);
    this.joinTimer = this.ports.timers.after(RADIO_SWITCH_DELAY_MS, () => this.join(credentials));
    this.set("received");
  }

  /** Leaves the setup network and joins as a station: the new credentials, or the saved network without them. */
  private join(credentials?: WifiCredentials): void {
    this.cancel();
    this.closeAccessPoint();
    this.online = false;
    if (credentials !== undefined) this.ports.log(`joining Wi-Fi network "${credentials.ssid}"`);
    // State first: a radio may report the outcome before join() returns.
    this.joinTimer = this.ports.timers.after(JOIN_TIMEOUT_MS, () => this.event("failed", "timeout"));
    this.set("joining");
    this.ports.wifi.join(credentials);
  }

  /** Opens the setup network (at boot when unprovisioned, on a 5-second button hold, or as the opt-in fallback). */
  openSetup(why: string): void {
    this.cancel();
    this.pending = undefined;
    const wifi = this.ports.wifi;
    const log = this.ports.notice ?? this.ports.log;
    if (!this.accessPointUp) wifi.openAccessPoint(this.setupSsid, this.passphrase);
    this.accessPointUp = true;
    if (this.open) {
      log(`setup network "${this.setupSsid}" is up and OPEN (${why}): anyone in range can read the Wi-Fi password sent to it`);
    } else {
      log(`setup network "${this.setupSsid}" is up (${why}), WPA2 passphrase: ${this.passphrase}`);
    }
    const limited = this.provisioned();
    log(`the setup network closes after ${SETUP_IDLE_MS / 60000} minutes without a client${limited ? `, and ${SETUP_MAX_MS / 60000} minutes after it opened in any case` : ""}`);
    if (limited) this.maxTimer = this.ports.timers.after(SETUP_MAX_MS, () => this.closeSetup(`${SETUP_MAX_MS / 60000} minutes after it opened`));
    this.set("setup");
    this.activity();
  }

  /**
   * A peer at `address` (a TCP client's, a datagram's source) was heard from: true when it is a
   * client of the setup network while that is up, which is then a client sign (activity). Anything
   * from the home network is not: it can neither keep the setup network up nor use its open doors.
   */
  clientSign(address: string): boolean {
    if (this.state !== "setup" || !this.ports.wifi.accessPointClient(address)) return false;
    this.activity();
    return true;
  }

  /** A client sign on the setup network (an association, a request from one of its clients): the idle countdown starts again. */
  activity(): void {
    if (this.state !== "setup") return;
    this.ports.timers.cancel(this.idleTimer); // undefined when called by openSetup
    this.idleTimer = this.ports.timers.after(SETUP_IDLE_MS, () => this.setupIdle());
  }

  /** The last attempt with new credentials, if any was made since the last factory reset. */
  lastAttempt(): LastAttempt | undefined {
    const ssid = this.settings.text(KEY.joinSsid, "");
    const result = this.settings.text(KEY.joinResult, "");
    return ssid === "" || result === "" ? undefined : { ssid, result };
  }

  private event(event: WifiEvent, detail?: string): void {
    if (event === "client") {
      this.activity();
    } else if (event === "connected") {
      this.connected();
    } else if (event === "failed") {
      if (this.state !== "joining") return; // a late report of an attempt already given up
      this.ports.timers.cancel(this.joinTimer);
      this.joinTimer = undefined;
      if (this.pending !== undefined) this.attemptFailed(detail);
      else this.offline(`could not rejoin (${detail ?? "no reason given"})`);
    } else if (event === "lost") {
      const was = this.online;
      this.online = false;
      if (was && this.state === "joined") this.offline("connection lost");
    }
  }

  private connected(): void {
    this.online = true;
    if (this.state !== "joining" && this.state !== "offline") return; // still serving the setup network: stays there
    this.ports.timers.cancel(this.joinTimer);
    this.joinTimer = undefined;
    const fresh = this.pending;
    this.pending = undefined;
    if (fresh !== undefined) {
      if (!this.ports.wifi.save(fresh)) this.ports.log("Wi-Fi: the new network could not be stored; it is used until the next restart");
      this.record(fresh.ssid, JOIN_RESULT.joined);
    }
    this.retryMs = RECONNECT_FIRST_MS;
    this.offlineSince = -1;
    this.lastFailed = false;
    this.ports.log(`Wi-Fi joined "${this.ports.wifi.saved()?.ssid ?? fresh?.ssid ?? ""}"`);
    this.set("joined");
  }

  private attemptFailed(detail: string | undefined): void {
    const ssid = this.pending!.ssid;
    this.pending = undefined;
    this.ports.wifi.disconnect();
    const result = detail === "auth" ? JOIN_RESULT.auth : detail === "not found" ? JOIN_RESULT.notFound : detail === "timeout" ? JOIN_RESULT.timeout : JOIN_RESULT.other;
    this.record(ssid, result);
    this.ports.log(`joining "${ssid}" failed: ${result}`);
    this.lastFailed = true;
    this.openSetup("the last attempt failed");
  }

  /** The saved network is out of reach: retry with backoff; the opt-in fallback opens the setup network. */
  private offline(why: string): void {
    const now = this.ports.now();
    if (this.offlineSince < 0) this.offlineSince = now;
    if (this.fallbackMs > 0 && now - this.offlineSince >= this.fallbackMs) {
      this.offlineSince = -1;
      this.openSetup(`offline for ${this.fallbackMs / 60000} minutes, fallback enabled`);
      return;
    }
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
    this.ports.log(`Wi-Fi offline (${why}): retrying in ${delay / 1000} s`);
    this.cancel();
    this.retryTimer = this.ports.timers.after(delay, () => this.join());
    this.set("offline");
  }

  private setupIdle(): void {
    this.closeSetup(`after ${SETUP_IDLE_MS / 60000} minutes without a client`);
  }

  private closeSetup(why: string): void {
    this.cancel();
    this.closeAccessPoint();
    this.lastFailed = false;
    this.ports.log(`setup network closed ${why}`);
    if (!this.provisioned()) {
      this.ports.log("not provisioned: restart the plug or hold its button 5 s to open the setup network again");
      this.set("unprovisioned");
    } else if (this.online) {
      this.set("joined");
    } else {
      this.join();
    }
  }

  private closeAccessPoint(): void {
    if (this.accessPointUp) this.ports.wifi.closeAccessPoint();
    this.accessPointUp = false;
  }

  private record(ssid: string, result: string): void {
    this.settings.put(KEY.joinSsid, ssid);
    this.settings.put(KEY.joinResult, result);
  }

  private cancel(): void {
    const { timers } = this.ports;
    timers.cancel(this.joinTimer);
    timers.cancel(this.idleTimer);
    timers.cancel(this.retryTimer);
    timers.cancel(this.maxTimer);
    this.joinTimer = this.idleTimer = this.retryTimer = this.maxTimer = undefined;
  }

  private set(state: WifiState): void {
    this.state = state;
    this.listener?.onboardingChanged(state);
  }

  /** The build's passphrase, else the stored one, else a new one made from the random port (stored by start()). */
  private loadPassphrase(configured: string | undefined): string {
    if (configured !== undefined && configured !== "") {
      if (configured.length >= MIN_SETUP_PASSPHRASE && validPassphrase(configured)) return configured;
      this.ports.log(`the configured setup passphrase is not ${MIN_SETUP_PASSPHRASE}-63 printable ASCII characters: ignored`);
    }
    const stored = this.settings.text(KEY.setupKey, "");
    if (stored.length >= MIN_SETUP_PASSPHRASE && validPassphrase(stored)) return stored;
    const bytes = this.ports.random(12);
    let made = "";
    for (let i = 0; i < 12; i++) {
      if (i === 4 || i === 8) made += "-";
      made += PASSPHRASE_ALPHABET[bytes[i] & 31];
    }
    this.passphraseToStore = true; // by start()
    return made;
  }
}
