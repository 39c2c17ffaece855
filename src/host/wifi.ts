// A virtual Wi-Fi radio for the host plug: a burned-in MAC (made once per state directory), a fixed
// list of networks around it, and a "join" that remembers the network name. Passwords are dropped.

import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatMac, parseMacBytes } from "../core/identity.js";
import type { LogPort, WifiCredentials, WifiKeyType, WifiNetwork, WifiPort, WifiStationInfo } from "../ports/ports.js";

export const VIRTUAL_NETWORKS: readonly WifiNetwork[] = Object.freeze([
  { ssid: "HomeNetwork", keyType: 3, rssi: -48, channel: 6 },
  { ssid: "Neighbour-2G", keyType: 2, rssi: -71, channel: 1 },
  { ssid: "CafeGuest", keyType: 0, rssi: -80, channel: 11 },
]);

/** rssi reported while joined to a virtual network. */
const JOINED_RSSI = -48;

export class VirtualWifi implements WifiPort {
  private readonly macBytes: Uint8Array;
  private joined: { ssid: string; keyType: WifiKeyType };

  constructor(private readonly dir: string, private readonly log: LogPort) {
    this.macBytes = loadOrCreateMac(join(dir, "mac"));
    this.joined = { ssid: "", keyType: 0 };
    try {
      const saved = JSON.parse(readFileSync(join(dir, "wifi.json"), "utf8")) as { ssid?: unknown; keyType?: unknown };
      if (typeof saved.ssid === "string" && typeof saved.keyType === "number") this.joined = { ssid: saved.ssid, keyType: saved.keyType as WifiKeyType };
    } catch {
      // never joined
    }
  }

  mac(): Uint8Array {
    return this.macBytes;
  }

  scan(done: (networks: WifiNetwork[]) => void): void {
    setTimeout(() => done(VIRTUAL_NETWORKS.slice()), 50);
  }

  station(): WifiStationInfo {
    return { ssid: this.joined.ssid, keyType: this.joined.keyType, rssi: this.joined.ssid === "" ? 0 : JOINED_RSSI };
  }

  join(credentials: WifiCredentials): void {
    this.joined = { ssid: credentials.ssid, keyType: credentials.keyType };
    writeFileSync(join(this.dir, "wifi.json"), JSON.stringify(this.joined) + "\n");
    this.log(`Wi-Fi: joined "${credentials.ssid}" (virtual)`);
  }

  forget(): void {
    this.joined = { ssid: "", keyType: 0 };
    rmSync(join(this.dir, "wifi.json"), { force: true });
  }
}

/** A random, locally administered, unicast MAC, kept in `path` so that the plug keeps its identity. */
function loadOrCreateMac(path: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  try {
    bytes = parseMacBytes(readFileSync(path, "utf8").trim());
  } catch {
    // first boot
  }
  if (bytes === undefined) {
    bytes = new Uint8Array(randomBytes(6));
    bytes[0] = (bytes[0] & 0xfc) | 0x02;
    writeFileSync(path, formatMac(bytes) + "\n");
  }
  return bytes;
}
