// The command line of `npm start` (main.ts), read and checked before anything starts: every problem
// is one UsageError whose message names the flag (and the file, for --wifi and --state-dir), and
// main prints it on one line followed by "see --help". Values are read here, not by Node's
// parseArgs, so that `--load -5` is the value -5 (refused with this project's own message) rather
// than an "ambiguous" option. Ports are strict decimal numbers.

import { readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import type { PowerOnPolicy } from "../core/device/device.js";
import { escapeControls } from "../core/limits.js";
import { DEFAULT_PERSONALITY, PERSONALITIES, findPersonality } from "../core/device/personality.js";
import { DEFAULT_METER_CHIP, DEFAULT_VOLTS, MAX_POINTS, METER_CHIPS, METERING_MODELS, parseLoadArgs, type LoadSpec } from "./load.js";
import { PLUG_FILES, storedSetting } from "./store.js";
import { DEFAULT_BIND, DEFAULT_DISCOVERY_PORT, DEFAULT_HTTP_PORT, DEFAULT_KLAP_PORT, DEFAULT_PORT } from "./virtual-plug.js";
import type { PlugMode } from "../core/plug.js";
import { credentialsProblem, MIN_OWNER_PASSWORD } from "../core/klap/owner.js";
import { readUpdateKey } from "./update.js";
import { parseNetworks, type VirtualNetwork } from "./wifi.js";

export const USAGE = `Usage: npm start -- [options]

  --port N          TCP and UDP port (default ${DEFAULT_PORT})
  --bind ADDRESS    address to listen on (default ${DEFAULT_BIND}; 0.0.0.0 for the whole LAN)
  --model NAME      personality: ${PERSONALITIES.map((p) => p.key).join(", ")} (default: the stored one, else ${DEFAULT_PERSONALITY})
  --state-dir DIR   where identity and settings live (default ./.plug-state/ADDRESS-PORT), owner-only;
                    one plug at a time
  --power-on MODE   relay at start: last (default), on, off, or schedule (last, then the last
                    schedule action due today once the time is known)
  --no-time         start without a time source, like a plug with no internet: rule changes answer
                    -11 "time not sync" until a client sets the time (the Kasa app's set_timezone)
  --no-presence-lock
                    let the LAN reset the plug, move it to another Wi-Fi network and change its identity
                    without the button's unlock gesture (Enter in this terminal is the button)
  --factory         start unprovisioned (Wi-Fi and settings wiped, identity kept): the setup network opens
  --wifi FILE       the networks in range of the virtual radio: a JSON list of
                    {"ssid": "Home", "key_type": 3, "rssi": -50, "password": "the one that works"}
                    (default: HomeNetwork / "correct horse battery", Neighbour-2G, CafeGuest)
  --http-port N     the setup page's port while the setup network is up (default ${DEFAULT_HTTP_PORT}, or a
                    free one when ${DEFAULT_HTTP_PORT} is taken: the plug prints it; 0: always a free one)
  --dns-port N      answer captive-portal DNS on this UDP port while in setup (default: off; 0: a free one)
  --open-setup      an OPEN setup network (for the stock Kasa app; anyone in range can read what is sent)
  --fallback MIN    open the setup network after MIN minutes offline (default: never)
  --load W|FILE     what is plugged in, for the energy meter (${METERING_MODELS.join(", ")} only): constant
                    watts (--load 60), or a file of watts over time (examples/load-washing-machine.txt):
                    lines "seconds watts" or "seconds,watts", # comments, times ascending, at most
                    ${MAX_POINTS} points; or JSON [[seconds, watts], ...]. Each value holds until the next
                    time; the last line's time ends the cycle, which repeats (its watts are not used).
                    The load draws power only while the relay is on; the terminal shows the power
                    when it changes. Without --load nothing is plugged in: 0 W, and the meter still
                    reads the mains voltage
  --volts V         the mains voltage the meter sees (default ${DEFAULT_VOLTS})
  --meter CHIP      the simulated meter chip: ${METER_CHIPS.join(", ")}
                    (default ${DEFAULT_METER_CHIP})
  --mode MODE       legacy (default): the Kasa protocol on --port, no authentication; secure: KLAP
                    only (what python-kasa and Home Assistant use with a username and password),
                    --port closed; both: KLAP and the legacy port
  --owner-page      serve the owner's page in secure mode too (once joined, on --http-port: the relay, name,
                    LED, energy, rules, lock, firmware update and log, for the owner's credentials only);
                    the legacy and both modes serve it by default
  --credentials FILE
                    the owner's credentials (KLAP's, and the owner's page's): JSON {"username": "...", "password": "..."}, the
                    file readable by you only (chmod 600); a password of at least ${MIN_OWNER_PASSWORD} characters,
                    not TP-Link's defaults. Only their hash is kept in the state directory
  --http-port-klap N
                    KLAP's HTTP port (default ${DEFAULT_KLAP_PORT}, or a free one when it is taken: the plug
                    prints it and its discovery answer names it; 0: always a free one)
  --discovery-port N
                    answer KLAP discovery on this UDP port (default ${DEFAULT_DISCOVERY_PORT}, where python-kasa
                    looks; 0: a free one)
  --update-key FILE the owner's public key for signed updates (npm run keygen writes keys/update-public.json):
                    the owner's page then takes images signed with its private key (npm run sign) into
                    the firmware slots in the state directory. Without it every update is refused
  --verbose         log each request: the client's address, module and method (never parameters)
  -h, --help        this text

In the terminal: Enter presses the plug's button (toggles the relay); a number of seconds, then
Enter, holds it that long: 3 opens the presence lock for one command, 6 the setup network, 11 resets.`;

/** A command line that cannot be run: the message names the flag; main adds "see --help". */
export class UsageError extends Error {}

/** What the command line asks for, checked. */
export interface CommandLine {
  help: boolean;
  port: number;
  bind: string;
  /** The model asked for with --model (the personality's key), if any. */
  model?: string;
  stateDir: string;
  powerOn?: PowerOnPolicy;
  factory: boolean;
  networks?: VirtualNetwork[];
  httpPort?: number;
  dnsPort?: number;
  openSetup: boolean;
  /** Minutes offline before the setup network opens (0: never). */
  fallback: number;
  noTime: boolean;
  presenceLock: boolean;
  load?: LoadSpec;
  verbose: boolean;
  mode: PlugMode;
  /** The owner's KLAP credentials from --credentials, checked. */
  credentials?: { username: string; password: string };
  klapPort?: number;
  discoveryPort?: number;
  /** --owner-page: the owner's page in secure mode too. */
  ownerPage?: boolean;
  /** The owner's public key for signed updates, from --update-key. */
  updateKey?: Uint8Array;
}

const FLAGS = {
  port: "value", bind: "value", model: "value", "state-dir": "value", "power-on": "value", wifi: "value", "http-port": "value",
  "dns-port": "value", fallback: "value", load: "value", volts: "value", meter: "value", mode: "value", credentials: "value",
  "http-port-klap": "value", "discovery-port": "value", "update-key": "value",
  factory: "switch", "owner-page": "switch", "open-setup": "switch", "no-time": "switch", "no-presence-lock": "switch", verbose: "switch", help: "switch",
} as const;
type Flag = keyof typeof FLAGS;

/** The longest --fallback: a week (a timer's delay must stay far below 2^31 ms). */
export const MAX_FALLBACK_MINUTES = 7 * 24 * 60;
/** The largest --wifi file read. */
export const MAX_WIFI_FILE_BYTES = 64 * 1024;

/** A value from the command line as a message shows it: quoted, control characters written out, cut short. */
function quoted(value: string): string {
  return `"${escapeControls(value.length > 60 ? value.slice(0, 60) + "..." : value)}"`;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`: a typo's distance from a flag. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) d[0].push(j);
      else {
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** Reads the flags and their values (`--flag value`, `--flag=value`); a value may start with "-" (`--load -5`). */
function read(argv: readonly string[]): Map<Flag, string | true> {
  const given = new Map<Flag, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") {
      given.set("help", true);
      continue;
    }
    if (!arg.startsWith("-") || arg === "-" || arg === "--") {
      throw new UsageError(arg === "--" ? `unexpected "--": every option has the form --name or --name VALUE` : `unexpected argument ${quoted(arg)}: options start with --`);
    }
    if (!arg.startsWith("--")) throw new UsageError(`unknown option ${quoted(arg)}: the only short one is -h`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!Object.prototype.hasOwnProperty.call(FLAGS, name)) {
      const near = (Object.keys(FLAGS) as Flag[]).find((f) => distance(f, name) <= 2);
      throw new UsageError(`unknown option --${escapeControls(name.slice(0, 40))}${near !== undefined && name.length > 1 ? ` (--${near}?)` : ""}`);
    }
    const flag = name as Flag;
    if (given.has(flag)) throw new UsageError(`--${flag} is given twice`);
    if (FLAGS[flag] === "switch") {
      if (eq >= 0) throw new UsageError(`--${flag} takes no value`);
      given.set(flag, true);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      // the next option is not this one's value; anything else is, "-5" included
      if (value === undefined || (value.startsWith("--") && value.length > 2)) throw new UsageError(`--${flag} needs a value`);
      i++;
    }
    given.set(flag, value);
  }
  return given;
}

/** A port number in decimal, without sign, exponent or leading zeros, from `min` to 65535. */
export function parsePort(flag: string, value: string, min: 0 | 1): number {
  const n = /^(0|[1-9][0-9]{0,4})$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= 65535)) {
    throw new UsageError(`--${flag} must be a port number from ${min} to 65535 in decimal${min === 0 ? " (0: a free one)" : ""}, not ${quoted(value)}`);
  }
  return n;
}

/** Reads and checks a `--wifi` file (its problems as one line naming it; its contents never shown: they hold passwords). */
function readNetworks(file: string, stateDir: string): VirtualNetwork[] {
  // the plug writes its own files only; the list is the user's, read and never written
  if (PLUG_FILES.some((name) => resolve(stateDir, name) === resolve(file))) {
    throw new UsageError(`--wifi: ${file} is one of the plug's own files in its state directory: keep the list elsewhere`);
  }
  let text: string;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UsageError(`--wifi: ${file} is a directory, not a file`);
    if (st.size > MAX_WIFI_FILE_BYTES) throw new UsageError(`--wifi: ${file} has ${st.size} bytes, more than ${MAX_WIFI_FILE_BYTES}: is it the right file?`);
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--wifi: ${fileProblem(file, e)}`);
  }
  try {
    return parseNetworks(text, file);
  } catch (e) {
    throw new UsageError(`--wifi: ${(e as Error).message}`);
  }
}

/** The largest --credentials file read. */
export const MAX_CREDENTIALS_FILE_BYTES = 4096;

/**
 * Reads and checks a `--credentials` file: the owner's only (not readable by others), JSON with a
 * username and a password that credentialsProblem takes. The password is never shown.
 */
function readCredentials(file: string): { username: string; password: string } {
  let text: string;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UsageError(`--credentials: ${file} is a directory, not a file`);
    if ((st.mode & 0o004) !== 0) throw new UsageError(`--credentials: ${file} is readable by every user of this machine: chmod 600 ${file}`);
    if (st.size > MAX_CREDENTIALS_FILE_BYTES) throw new UsageError(`--credentials: ${file} has ${st.size} bytes, more than ${MAX_CREDENTIALS_FILE_BYTES}: is it the right file?`);
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--credentials: ${fileProblem(file, e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const value = json as { username?: unknown; password?: unknown } | undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value) || typeof value.username !== "string" || typeof value.password !== "string") {
    throw new UsageError(`--credentials: ${file} must hold JSON {"username": "...", "password": "..."}`);
  }
  const problem = credentialsProblem(value.username, value.password);
  if (problem !== undefined) throw new UsageError(`--credentials: ${file}: ${problem}`);
  return { username: value.username, password: value.password };
}

/** A file that cannot be read, in words (not Node's "ENOENT: no such file or directory, open '...'"). */
function fileProblem(file: string, e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return `no such file: ${file}`;
    case "EACCES":
    case "EPERM":
      return `${file}: permission denied`;
    case "ENOTDIR":
      return `${file}: a part of the path is a file, not a directory`;
    default:
      return `${file}: ${(e as Error).message}`;
  }
}

/** Checks what can be checked of the state directory without touching it: it must be a directory, or not exist yet. */
function checkStateDir(dir: string, given: boolean): void {
  const flag = given ? "--state-dir" : "the state directory (--state-dir)";
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`${flag}: ${dir} is a file, not a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // made at start
    throw new UsageError(`${flag}: ${fileProblem(dir, e)}`);
  }
}

/** Reads and checks the whole command line (`argv` without node and the script). Throws UsageError. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const given = read(argv);
  const text = (flag: Flag): string | undefined => {
    const v = given.get(flag);
    return typeof v === "string" ? v : undefined;
  };
  const on = (flag: Flag): boolean => given.get(flag) === true;
  const base = {
    help: on("help"), port: DEFAULT_PORT, bind: DEFAULT_BIND, stateDir: "", factory: on("factory"), openSetup: on("open-setup"), fallback: 0,
    noTime: on("no-time"), presenceLock: !on("no-presence-lock"), verbose: on("verbose"), mode: "legacy" as PlugMode,
  };
  if (base.help) return base;

  const portText = text("port");
  const port = portText === undefined ? DEFAULT_PORT : parsePort("port", portText, 1);
  const bind = text("bind") ?? DEFAULT_BIND;
  if (isIP(bind) === 0 && bind !== "localhost") throw new UsageError(`--bind must be an IP address of this machine (127.0.0.1, 0.0.0.0, ::1 ...), not ${quoted(bind)}`);
  const modelText = text("model");
  const personality = modelText === undefined ? undefined : findPersonality(modelText);
  if (modelText !== undefined && personality === undefined) {
    throw new UsageError(`--model must be one of ${PERSONALITIES.map((p) => p.key).join(", ")}, not ${quoted(modelText)}`);
  }
  const powerOn = text("power-on");
  if (powerOn !== undefined && powerOn !== "last" && powerOn !== "on" && powerOn !== "off" && powerOn !== "schedule") {
    throw new UsageError(`--power-on must be last, on, off or schedule, not ${quoted(powerOn)}`);
  }
  const httpText = text("http-port");
  const httpPort = httpText === undefined ? undefined : parsePort("http-port", httpText, 0);
  const dnsText = text("dns-port");
  const dnsPort = dnsText === undefined ? undefined : parsePort("dns-port", dnsText, 0);
  // the setup page is TCP on the plug's address, the captive DNS UDP: neither may take the Kasa port
  if (httpPort === port) throw new UsageError(`--http-port ${httpPort} is the plug's --port: the setup page needs a port of its own`);
  if (dnsPort === port) throw new UsageError(`--dns-port ${dnsPort} is the plug's --port (UDP discovery): the captive DNS needs a port of its own`);
  const mode = text("mode") ?? "legacy";
  if (mode !== "legacy" && mode !== "secure" && mode !== "both") throw new UsageError(`--mode must be legacy, secure or both, not ${quoted(mode)}`);
  const klapFlags = (["http-port-klap", "discovery-port"] as const).filter((f) => given.has(f));
  if (mode === "legacy" && klapFlags.length > 0) throw new UsageError(`--${klapFlags[0]} is for KLAP: add --mode secure or --mode both`);
  const klapText = text("http-port-klap");
  const klapPort = klapText === undefined ? undefined : parsePort("http-port-klap", klapText, 0);
  const discoveryText = text("discovery-port");
  const discoveryPort = discoveryText === undefined ? undefined : parsePort("discovery-port", discoveryText, 0);
  if (klapPort !== undefined && klapPort !== 0 && (klapPort === port || klapPort === httpPort)) {
    throw new UsageError(`--http-port-klap ${klapPort} is the plug's ${klapPort === port ? "--port" : "--http-port"}: KLAP needs a port of its own`);
  }
  if (discoveryPort !== undefined && discoveryPort !== 0 && (discoveryPort === port || discoveryPort === dnsPort)) {
    throw new UsageError(`--discovery-port ${discoveryPort} is the plug's ${discoveryPort === port ? "--port" : "--dns-port"}: discovery needs a port of its own`);
  }
  const credentialsFile = text("credentials");
  const credentials = credentialsFile === undefined ? undefined : readCredentials(credentialsFile);
  const updateKeyFile = text("update-key");
  let updateKey: Uint8Array | undefined;
  if (updateKeyFile !== undefined) {
    try {
      updateKey = readUpdateKey(updateKeyFile);
    } catch (e) {
      throw new UsageError(`--update-key: ${(e as Error).message}`);
    }
  }
  const fallbackText = text("fallback");
  const fallback = fallbackText === undefined ? 0 : /^[0-9]{1,6}$/.test(fallbackText) ? Number(fallbackText) : NaN;
  if (!(fallback >= 0 && fallback <= MAX_FALLBACK_MINUTES)) {
    throw new UsageError(`--fallback must be a whole number of minutes from 0 to ${MAX_FALLBACK_MINUTES}, not ${quoted(fallbackText!)}`);
  }

  const dirText = text("state-dir");
  if (dirText === "") throw new UsageError(`--state-dir needs a directory`);
  const stateDir = resolve(dirText ?? `.plug-state/${bind.replace(/[^0-9A-Za-z.]/g, "_")}-${port}`);
  checkStateDir(stateDir, dirText !== undefined);
  const wifi = text("wifi");
  const networks = wifi === undefined ? undefined : readNetworks(wifi, stateDir);

  // The model the plug will have: the one asked for, else the one stored, else the default; a load
  // needs a meter, and that is known now, before the plug boots and prints its setup passphrase.
  const stored = personality === undefined ? findPersonality(storedSetting(stateDir, "model") ?? "") : undefined;
  const model = personality ?? stored ?? findPersonality(DEFAULT_PERSONALITY)!;
  const loadText = text("load");
  const volts = text("volts");
  const meter = text("meter");
  if ((loadText !== undefined || volts !== undefined || meter !== undefined) && model.emeter === "none") {
    const flags = [loadText !== undefined && "--load", volts !== undefined && "--volts", meter !== undefined && "--meter"].filter(Boolean).join(" and ");
    const which = personality !== undefined ? `--model ${model.key} has none` : `this plug is an ${model.key} (${stored !== undefined ? `stored in ${stateDir}` : "the default"}): add --model ${METERING_MODELS[0]}`;
    throw new UsageError(`${flags} need${flags.includes(" and ") ? "" : "s"} a model with an energy meter (${METERING_MODELS.join(" or ")}); ${which}`);
  }
  let load: LoadSpec | undefined;
  try {
    load = parseLoadArgs({ load: loadText, volts, meter, model: model.key });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  return {
    ...base, port, bind, model: personality?.key, stateDir, powerOn: powerOn as PowerOnPolicy | undefined, networks, httpPort, dnsPort, fallback, load,
    mode, credentials, klapPort, discoveryPort, updateKey, ...(on("owner-page") ? { ownerPage: true } : {}),
  };
}
