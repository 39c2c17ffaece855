// The Wi-Fi radio on the legacy `wifi` and `net` modules (the ECMA-419 interface has no access point
// mode, which onboarding needs). One WiFi instance receives every event; joins and the access point
// go through WiFi's static functions. The saved network is kept in its own preference domain by
// saved-network.ts (two banks with a check, so a power cut mid-save keeps the old network or the new
// one whole; the password as bytes), and never reaches the core's settings or any log.

import Net from "net";
import WiFi from "wifi";
import type { LogPort, RandomPort, SavedNetwork, WifiCredentials, WifiEvent, WifiKeyType, WifiNetwork, WifiPort } from "../ports/ports.js";
import { parseMacBytes } from "../core/device/identity.js";
import { MAX_SCAN_ENTRIES } from "../core/modules/netif.js";
import { SavedNetworkStore, WIFI_DOMAIN } from "./saved-network.js";
import type { Preferences } from "./store.js";

/** @moddable/typings 5.6.0 declares Net.get(property) only; the SDK's net module also takes the interface ("station" or "ap"). */
const netGet = Net.get as (property: string, iface?: "station" | "ap") => unknown;
/** Where the legacy module puts the access point when it cannot be told (ESP8266 and ESP32 SDK defaults). */
const DEFAULT_AP_ADDRESS = "192.168.4.1";

/** Kasa key_type from the legacy scan's authentication string. */
function keyType(authentication: string): WifiKeyType {
  if (authentication === "none") return 0;
  if (authentication === "wep") return 1;
  if (authentication === "wpa_psk") return 2;
  return 3;
}

/** What follows the station's address (the clock: SNTP once there is one). */
export interface OnlineListener {
  online(up: boolean): void;
}

export class ModdableWifi implements WifiPort {
  private radio: WiFi | null = null;
  private listener: (event: WifiEvent, detail?: string) => void = () => {};
  private online = false;
  private accessPoint = false;
  private readonly macAddress: Uint8Array;
  private readonly network: SavedNetworkStore;

  constructor(
    private readonly prefs: Preferences,
    private readonly log: LogPort,
    /** Told true once the station has an IP address, false when it loses it. */
    private readonly onlineListener: OnlineListener,
    /** The simulator's MAC address is made from it (not kept). */
    random: RandomPort,
  ) {
    this.network = new SavedNetworkStore(prefs);
    this.macAddress = parseMacBytes(safe(() => Net.get("MAC"))) ?? this.simulatorMac(random);
  }

  mac(): Uint8Array {
    return this.macAddress;
  }

  listen(onEvent: (event: WifiEvent, detail?: string) => void): void {
    this.listener = onEvent;
    // The one instance (the simulator allows no second): its callback carries every radio event.
    this.radio ??= new WiFi(undefined, (message: string, reason?: number) => this.message(message, reason));
  }

  scan(done: (networks: WifiNetwork[]) => void): void {
    const found: WifiNetwork[] = [];
    try {
      if (WiFi.mode === 0) WiFi.mode = 1; // the simulator refuses to scan with the radio off
      WiFi.scan({ hidden: false }, (item) => {
        if (item === null || item === undefined) done(found);
        else if (found.length < MAX_SCAN_ENTRIES) found.push({ ssid: item.ssid, keyType: keyType(item.authentication), rssi: item.rssi });
      });
    } catch {
      done(found); // the radio cannot scan now (already scanning, or a mode without a station)
    }
  }

  rssi(): number {
    if (!this.online) return 0;
    const rssi = safe(() => Net.get("RSSI"));
    return typeof rssi === "number" ? rssi : 0;
  }

  join(credentials?: WifiCredentials): void {
    const c = credentials ?? this.network.load();
    this.online = false;
    if (c === undefined) {
      this.listener("failed", "nothing saved");
      return;
    }
    WiFi.mode = this.accessPoint ? 3 : 1;
    WiFi.connect(c.password.length > 0 ? { ssid: c.ssid, password: c.password } : { ssid: c.ssid });
  }

  disconnect(): void {
    this.online = false;
    safe(() => WiFi.disconnect());
  }

  save(c: WifiCredentials): boolean {
    return this.network.save(c);
  }

  saved(): SavedNetwork | undefined {
    const c = this.network.load();
    return c === undefined ? undefined : { ssid: c.ssid, keyType: c.keyType };
  }

  forget(): void {
    this.network.forget();
    this.disconnect();
  }

  openAccessPoint(ssid: string, passphrase: string): void {
    // AP and station together: scanning needs the station (ESP8266 cannot scan in AP-only mode).
    WiFi.mode = 3;
    const options: { ssid: string; password?: string; station: boolean } = { ssid, station: true };
    if (passphrase !== "") options.password = passphrase; // with a password the SDKs use WPA2-PSK
    WiFi.accessPoint(options as Parameters<typeof WiFi.accessPoint>[0]);
    this.accessPoint = true;
  }

  closeAccessPoint(): void {
    this.accessPoint = false;
    safe(() => (WiFi.mode = 1));
  }

  accessPointAddress(): string {
    const ip = safe(() => netGet("IP", "ap"));
    return typeof ip === "string" && ip !== "" ? ip : DEFAULT_AP_ADDRESS;
  }

  /** The station's IPv4 address while joined (discovery's answer names it), "" otherwise. */
  address(): string {
    if (!this.online) return "";
    try {
      const ip = netGet("IP", "station");
      return typeof ip === "string" ? ip : "";
    } catch {
      return "";
    }
  }

  /**
   * A peer on the access point's subnet (its /24, as both SDKs set it up) while it is up. ECMA-419
   * sockets do not say which interface a packet came in on: when the home network is numbered like
   * the access point, no peer counts (setup-network clients then need the button as LAN ones do).
   */
  accessPointClient(address: string): boolean {
    if (!this.accessPoint) return false;
    const subnet = prefix24(this.accessPointAddress());
    if (prefix24(address) !== subnet) return false;
    let station: unknown;
    try {
      station = this.online ? netGet("IP", "station") : undefined;
    } catch {
      station = undefined;
    }
    return typeof station !== "string" || prefix24(station) !== subnet;
  }

  private message(message: string, reason?: number): void {
    if (message === "gotIP") {
      this.online = true;
      this.log(`Wi-Fi: address ${safe(() => netGet("IP", "station")) ?? "?"}`);
      this.listener("connected");
      this.onlineListener.online(true);
    } else if (message === "disconnect" || message === "lostIP") {
      const was = this.online;
      this.online = false;
      if (was) {
        this.listener("lost");
        this.onlineListener.online(false);
      } else {
        // -1: authentication, MIC or handshake failure, i.e. the password (NOTES §3)
        this.listener("failed", reason === -1 ? "auth" : message);
      }
    } else if (message === "station_connect") {
      this.listener("client");
    }
  }

  /** A stored byte value (try/catch inline, not safe(): this runs at boot, where the stack is shortest). */
  private prefBytes(key: string): Uint8Array | undefined {
    try {
      const v = this.prefs.get(WIFI_DOMAIN, key);
      return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The simulator has no radio MAC: make one once (locally administered) and keep it. */
  private simulatorMac(random: RandomPort): Uint8Array {
    const stored = this.prefBytes("mac");
    if (stored !== undefined && stored.length === 6) return stored;
    const bytes = random(6); // (not Math.random: unseeded there, every fresh simulator had the same MAC)
    bytes[0] = (bytes[0] & 0xfc) | 0x02;
    safe(() => this.prefs.set(WIFI_DOMAIN, "mac", bytes.buffer as ArrayBuffer));
    return bytes;
  }
}

/** "192.168.4.7" → "192.168.4" (what is not dotted IPv4 gives something no IPv4 address matches). */
function prefix24(address: string): string {
  const dot = address.lastIndexOf(".");
  return dot > 0 ? address.slice(0, dot) : "-";
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
