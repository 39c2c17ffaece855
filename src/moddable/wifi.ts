// The Wi-Fi radio on the legacy `wifi` and `net` modules (the ECMA-419 interface has no access point
// mode, which onboarding needs). The station password is kept in its own preference domain, as bytes,
// so that the plug rejoins after a restart; it never reaches the core's settings or any log.

import Net from "net";
import WiFi from "wifi";
import type { LogPort, WifiCredentials, WifiKeyType, WifiNetwork, WifiPort, WifiStationInfo } from "../ports/ports.js";
import { parseMacBytes } from "../core/identity.js";
import { utf8Decode, utf8Encode } from "../core/wire/utf8.js";
import type { Preferences } from "./store.js";

const DOMAIN = "wifi";

/** Kasa key_type from the legacy scan's authentication string. */
function keyType(authentication: string): WifiKeyType {
  if (authentication === "none") return 0;
  if (authentication === "wep") return 1;
  if (authentication === "wpa_psk") return 2;
  return 3;
}

export class ModdableWifi implements WifiPort {
  private station_: WiFi | null = null;
  private readonly macAddress: Uint8Array;
  /** Called with true once the station has an IP address, false when it loses it. */
  onOnline: (online: boolean) => void = () => {};

  constructor(private readonly prefs: Preferences, private readonly log: LogPort) {
    this.macAddress = parseMacBytes(safe(() => Net.get("MAC"))) ?? this.simulatorMac();
  }

  mac(): Uint8Array {
    return this.macAddress;
  }

  scan(done: (networks: WifiNetwork[]) => void): void {
    const found: WifiNetwork[] = [];
    try {
      WiFi.scan({ hidden: false }, (item) => {
        if (item === null) done(found);
        else if (found.length < 64) found.push({ ssid: item.ssid, keyType: keyType(item.authentication), rssi: item.rssi });
      });
    } catch {
      done(found); // the radio cannot scan in this mode (ESP8266 AP-only, or the simulator before Wi-Fi starts)
    }
  }

  station(): WifiStationInfo {
    const ssid = this.storedSsid();
    const connected = safe(() => Net.get("SSID"));
    const rssi = connected !== undefined && connected !== "" ? safe(() => Net.get("RSSI")) : undefined;
    return { ssid, keyType: this.storedKeyType(), rssi: typeof rssi === "number" ? rssi : 0 };
  }

  join(credentials: WifiCredentials): void {
    try {
      this.prefs.set(DOMAIN, "ssid", utf8Encode(credentials.ssid).buffer as ArrayBuffer);
      this.prefs.set(DOMAIN, "key", credentials.keyType);
      if (credentials.password.length > 0) this.prefs.set(DOMAIN, "psk", utf8Encode(credentials.password).buffer as ArrayBuffer);
      else this.prefs.delete(DOMAIN, "psk");
    } catch {
      this.log("Wi-Fi credentials could not be stored");
    }
    this.connect(credentials.ssid, credentials.password);
  }

  forget(): void {
    for (const key of ["ssid", "key", "psk"]) safe(() => this.prefs.delete(DOMAIN, key));
    this.station_?.close();
    this.station_ = null;
    safe(() => WiFi.disconnect());
  }

  /** Joins the stored network, if any (at boot). */
  rejoin(): void {
    const ssid = this.storedSsid();
    if (ssid === "") return;
    const psk = safe(() => this.prefs.get(DOMAIN, "psk"));
    this.connect(ssid, psk instanceof ArrayBuffer ? utf8Decode(new Uint8Array(psk)) : "");
  }

  private connect(ssid: string, password: string): void {
    this.station_?.close();
    WiFi.mode = 1; // station
    const options = password.length > 0 ? { ssid, password } : { ssid };
    this.station_ = new WiFi(options, (message) => {
      if (message === "gotIP") {
        this.log(`Wi-Fi: joined "${ssid}", address ${safe(() => Net.get("IP")) ?? "?"}`);
        this.onOnline(true);
      } else if (message === "disconnect" || message === "lostIP") {
        this.onOnline(false);
      }
    });
  }

  private storedSsid(): string {
    const v = safe(() => this.prefs.get(DOMAIN, "ssid"));
    return v instanceof ArrayBuffer ? utf8Decode(new Uint8Array(v)) : "";
  }

  private storedKeyType(): WifiKeyType {
    const v = safe(() => this.prefs.get(DOMAIN, "key"));
    return v === 0 || v === 1 || v === 2 || v === 3 ? v : 0;
  }

  /** The simulator has no radio MAC: make one once (locally administered) and keep it. */
  private simulatorMac(): Uint8Array {
    const stored = safe(() => this.prefs.get(DOMAIN, "mac"));
    if (stored instanceof ArrayBuffer && stored.byteLength === 6) return new Uint8Array(stored);
    const bytes = new Uint8Array(6);
    for (let i = 0; i < 6; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[0] = (bytes[0] & 0xfc) | 0x02;
    safe(() => this.prefs.set(DOMAIN, "mac", bytes.buffer as ArrayBuffer));
    return bytes;
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
