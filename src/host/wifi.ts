// A virtual Wi-Fi radio for the host plug: a burned-in MAC (made once per state directory), the
// networks in range (from `--wifi FILE`, or three built-in ones) with the password each accepts, a
// join that succeeds or fails as a real one would (wrong password, network not found), and the
// saved network in the state directory (saved-network.json, owner-only; the `--wifi` file is only
// read). The setup access point is a state and a log line; its clients are the peers connecting from
// SETUP_CLIENT_PREFIX (on Linux any 127.x.x.x is the machine's own: `curl --interface 127.0.4.2`,
// Node's `localAddress`), and every peer while the virtual station is not on a network (as on a
// device, nothing else can reach the plug then).

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatMac, parseMacBytes } from "../core/device/identity.js";
import type { LogPort, SavedNetwork, WifiCredentials, WifiEvent, WifiKeyType, WifiNetwork, WifiPort } from "../ports/ports.js";
import { MAC_FILE, replaceFile, SAVED_NETWORK_FILE, STATE_FILE_MODE } from "./store.js";

/** Where versions before SAVED_NETWORK_FILE kept the saved network: a name users also gave their `--wifi` lists. */
const LEGACY_SAVED_NETWORK_FILE = "wifi.json";

/** A network in range of the virtual radio and the password it accepts ("" or absent for open ones). */
export interface VirtualNetwork {
  ssid: string;
  keyType: WifiKeyType;
  rssi: number;
  password?: string;
}

/** The networks around a plug started without `--wifi`. */
export const DEFAULT_NETWORKS: readonly VirtualNetwork[] = Object.freeze([
  { ssid: "HomeNetwork", keyType: 3, rssi: -48, password: "correct horse battery" },
  { ssid: "Neighbour-2G", keyType: 2, rssi: -71, password: "not-yours-1234" },
  { ssid: "CafeGuest", keyType: 0, rssi: -80 },
] as VirtualNetwork[]);

/** Peers whose address starts with this are clients of the virtual setup network (192.168.4.x on a device). */
export const SETUP_CLIENT_PREFIX = "127.0.4.";

/** How long a virtual join takes before it answers, ms. */
export const VIRTUAL_JOIN_MS = 300;

/**
 * Reads a `--wifi` file: a JSON list of {"ssid", "key_type" (0 open, 2 WPA, 3 WPA2), "rssi", "password"}.
 * Throws an Error saying what is wrong (parseNetworks).
 */
export function loadNetworks(path: string): VirtualNetwork[] {
  return parseNetworks(readFileSync(path, "utf8"), path);
}

/**
 * The networks in the text of a `--wifi` file named `file`. Throws an Error of one line that names
 * the file and says what is wrong and where, never quoting the file (it holds passwords; a JSON
 * error of the engine's would show a piece of it).
 */
export function parseNetworks(text: string, file: string): VirtualNetwork[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    const at = jsonErrorAt(text);
    const before = text.slice(0, at).split("\n");
    const where = at >= text.trimEnd().length ? "it ends too early" : `at line ${before.length}, column ${before[before.length - 1].length + 1}`;
    throw new Error(`${file} is not valid JSON: ${where}`);
  }
  if (!Array.isArray(list)) throw new Error(`${file}: expected a JSON list of networks, [{"ssid": ..., "key_type": ..., "password": ...}, ...]`);
  return list.map((n: unknown, i) => {
    const e = n as { ssid?: unknown; key_type?: unknown; rssi?: unknown; password?: unknown };
    const where = `${file}: network ${i + 1}`;
    if (typeof e !== "object" || e === null) throw new Error(`${where}: expected an object`);
    if (typeof e.ssid !== "string" || e.ssid.length === 0 || e.ssid.length > 32) throw new Error(`${where}: "ssid" must be 1-32 characters`);
    if (e.key_type !== 0 && e.key_type !== 1 && e.key_type !== 2 && e.key_type !== 3) throw new Error(`${where}: "key_type" must be 0, 1, 2 or 3`);
    const rssi = e.rssi === undefined ? -50 : e.rssi;
    if (typeof rssi !== "number" || !Number.isInteger(rssi) || rssi > 0 || rssi < -120) throw new Error(`${where}: "rssi" must be -120..0 dBm`);
    if (e.password !== undefined && typeof e.password !== "string") throw new Error(`${where}: "password" must be a string`);
    if (e.key_type !== 0 && (e.password === undefined || e.password === "")) throw new Error(`${where}: a secured network needs its "password"`);
    return { ssid: e.ssid, keyType: e.key_type, rssi, password: e.password };
  });
}

/**
 * Where JSON text stops being valid: the offset of the first character that cannot be there (the
 * text's length when it ends too early). Only for text JSON.parse refused; a scan of its own, since
 * the engine's message quotes the text.
 */
export function jsonErrorAt(text: string): number {
  let i = 0;
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (depth: number): void => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth > 512) fail();
      i++;
      space();
      const close = c === "{" ? "}" : "]";
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ":") fail();
          i++;
        }
        value(depth + 1);
        space();
        if (text[i] === ",") i++;
        else if (text[i] === close) {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') return string();
    const m = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (m === null) fail();
    i += m![0].length;
  };
  const string = (): void => {
    i++;
    while (i < text.length) {
      const ch = text.charCodeAt(i);
      if (ch === 0x22) {
        i++;
        return;
      }
      if (ch < 0x20) fail();
      if (ch === 0x5c) {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? "x")) fail();
      }
      i++;
    }
    fail();
  };
  try {
    value(0);
    space();
    return i < text.length ? i : text.length;
  } catch (at) {
    if (typeof at !== "number") throw at;
    return Math.min(at, text.length);
  }
}

interface Stored extends SavedNetwork {
  password: string;
}

export class VirtualWifi implements WifiPort {
  private readonly macBytes: Uint8Array;
  private listener: (event: WifiEvent, detail?: string) => void = () => {};
  private joined: VirtualNetwork | null = null;
  private attempt: NodeJS.Timeout | null = null;
  private readonly outOfRange = new Set<string>();
  /** The setup access point while it is up (tests look at it). */
  accessPoint: { ssid: string; secured: boolean } | null = null;

  constructor(
    dir: string,
    private readonly log: LogPort,
    private readonly networks: readonly VirtualNetwork[] = DEFAULT_NETWORKS,
    private readonly bindAddress = "127.0.0.1",
  ) {
    this.macBytes = loadOrCreateMac(join(dir, MAC_FILE));
    this.savedPath = join(dir, SAVED_NETWORK_FILE);
    adoptLegacySave(dir, this.savedPath);
  }

  /** The plug's own file for the network it joined (never the `--wifi` list, which it only reads). */
  private readonly savedPath: string;

  mac(): Uint8Array {
    return this.macBytes;
  }

  listen(onEvent: (event: WifiEvent, detail?: string) => void): void {
    this.listener = onEvent;
  }

  scan(done: (networks: WifiNetwork[]) => void): void {
    const seen = this.networks.filter((n) => !this.outOfRange.has(n.ssid)).map((n) => ({ ssid: n.ssid, keyType: n.keyType, rssi: n.rssi }));
    setTimeout(() => done(seen), 50);
  }

  rssi(): number {
    return this.joined?.rssi ?? 0;
  }

  join(credentials?: WifiCredentials): void {
    this.stopAttempt();
    this.joined = null;
    const tried = credentials ?? this.stored();
    this.attempt = setTimeout(() => {
      this.attempt = null;
      if (tried === undefined) return this.listener("failed", "nothing saved");
      const network = this.networks.find((n) => n.ssid === tried.ssid && !this.outOfRange.has(n.ssid));
      if (network === undefined) return this.listener("failed", "not found");
      if (network.keyType !== 0 && (network.password !== tried.password || network.keyType !== tried.keyType)) return this.listener("failed", "auth");
      this.joined = network;
      this.log(`Wi-Fi (virtual): associated with "${network.ssid}"`);
      this.listener("connected");
    }, VIRTUAL_JOIN_MS);
  }

  disconnect(): void {
    this.stopAttempt();
    this.joined = null;
  }

  save(credentials: WifiCredentials): boolean {
    try {
      // The state directory stands for the plug's flash: the password is kept to rejoin after a restart.
      replaceFile(this.savedPath, JSON.stringify(credentials) + "\n", STATE_FILE_MODE);
      return true;
    } catch {
      return false;
    }
  }

  saved(): SavedNetwork | undefined {
    const s = this.stored();
    return s === undefined ? undefined : { ssid: s.ssid, keyType: s.keyType };
  }

  forget(): void {
    rmSync(this.savedPath, { force: true });
  }

  openAccessPoint(ssid: string, passphrase: string): void {
    this.accessPoint = { ssid, secured: passphrase !== "" };
  }

  closeAccessPoint(): void {
    this.accessPoint = null;
  }

  accessPointAddress(): string {
    return this.bindAddress;
  }

  /** The bind address (a wildcard one as loopback): where the virtual plug is reached. */
  address(): string {
    const bind = this.bindAddress;
    return bind === "0.0.0.0" || bind === "::" ? "127.0.0.1" : bind;
  }

  accessPointClient(address: string): boolean {
    if (this.accessPoint === null) return false;
    const ipv4 = address.startsWith("::ffff:") ? address.slice(7) : address; // (a dual-stack socket's IPv4 peer)
    return this.joined === null || ipv4.startsWith(SETUP_CLIENT_PREFIX);
  }

  /** Takes a network out of range (the router goes away) or back; a plug on it loses its connection. */
  setInRange(ssid: string, inRange: boolean): void {
    if (inRange) this.outOfRange.delete(ssid);
    else this.outOfRange.add(ssid);
    if (!inRange && this.joined?.ssid === ssid) {
      this.joined = null;
      this.listener("lost");
    }
  }

  /** Stops a join in progress (the plug is shutting down). */
  stopAttempt(): void {
    if (this.attempt !== null) clearTimeout(this.attempt);
    this.attempt = null;
  }

  private stored(): Stored | undefined {
    try {
      const s = JSON.parse(readFileSync(this.savedPath, "utf8")) as { ssid?: unknown; keyType?: unknown; password?: unknown };
      if (typeof s.ssid === "string" && (s.keyType === 0 || s.keyType === 2 || s.keyType === 3) && typeof s.password === "string") {
        return { ssid: s.ssid, keyType: s.keyType, password: s.password };
      }
    } catch {
      // never provisioned
    }
    return undefined;
  }
}

/**
 * A state directory from before SAVED_NETWORK_FILE keeps its saved network in wifi.json: moved to
 * the plug's own name, only when it is one (an object with an ssid; a `--wifi` list is left alone).
 */
function adoptLegacySave(dir: string, savedPath: string): void {
  const legacy = join(dir, LEGACY_SAVED_NETWORK_FILE);
  if (existsSync(savedPath) || !existsSync(legacy)) return;
  try {
    const s = JSON.parse(readFileSync(legacy, "utf8")) as unknown;
    if (typeof s === "object" && s !== null && !Array.isArray(s) && typeof (s as { ssid?: unknown }).ssid === "string") renameSync(legacy, savedPath);
  } catch {
    // not a saved network: someone else's file
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
    writeFileSync(path, formatMac(bytes) + "\n", { mode: STATE_FILE_MODE });
  }
  return bytes;
}
