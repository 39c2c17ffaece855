// The board's description as its Moddable target manifest gives it (`config.plug`): pin numbers
// live in boards/<name>/manifest.json only; this file only reads them.

import config from "mc/config";
import { hexValue } from "../core/protocol/params.js";

export interface BoardConfig {
  /** Personality the firmware answers as unless one was stored. */
  model?: string;
  relay?: number;
  relayActiveLow?: boolean;
  led?: number;
  ledActiveLow?: boolean;
  button?: number;
  buttonActiveLow?: boolean;
  /** SNTP server (the default is a public pool). */
  sntp?: string;
  /** Relay at power-on: "last" (default), "on", "off" or "schedule" (last, then the schedule's last action due today). */
  powerOn?: string;
  /** The setup network's WPA2 passphrase (12-63 characters); generated on first boot when absent. */
  setupPassphrase?: string;
  /** An OPEN setup network (for the stock Kasa app): anyone in range can read the credentials sent. */
  setupOpen?: boolean;
  /** Minutes offline after which the setup network opens; 0 or absent: never. */
  fallbackMinutes?: number;
  /** The setup page's and captive DNS's ports (default 80 and 53; 8080 and 5353 in the simulator). */
  httpPort?: number;
  dnsPort?: number;
  /** Resource bounds overriding DEVICE_LIMITS (src/core/limits.ts), e.g. {"maxConnections": 8}. */
  limits?: Record<string, unknown>;
  /** false: no physical-presence lock (reset, Wi-Fi and identity changes open to the LAN). Default on. */
  presenceLock?: boolean | string;
  /** "legacy" (the default: the Kasa port 9999 only), "secure" (KLAP only) or "both". */
  mode?: string;
  /**
   * false where KLAP does not fit: the manifest's `esp` platform (ESP8266) says so for every board,
   * and `mode` is then ignored (docs/MEMORY.md: a KLAP answer needs 364 stack slots of the 256 there).
   */
  klap?: boolean | string;
  /**
   * The owner's page (src/core/owner): true or false; absent: on in the legacy and both modes, off in
   * secure. It needs the crypto port (MD5 and SHA-256), which the plug then gets in every mode.
   */
  ownerPage?: boolean | string;
  /** The energy meter chip and its pins (src/moddable/meter.ts); absent: no meter. */
  meter?: MeterBoardConfig;
  /**
   * The owner's update key, 65 bytes (uncompressed P-256) in hex; absent: no updates. Usually not
   * here but at the config's top level (buildSetting): scripts/moddable.mjs passes
   * keys/update-public.json's (npm run keygen) to an ESP32 build.
   */
  updateKey?: string;
  /** The firmware's version; likewise (scripts/moddable.mjs passes package.json's). */
  firmwareVersion?: string;
}

/**
 * `config.plug.meter`: {"chip": "CSE7766", "rx": 3} or {"chip": "BL0937", "cf": 5, "cf1": 14,
 * "sel": 12}; in the simulator {"chip": ..., "load": watts or [[ms, watts], ...], "volts": 230}.
 */
export interface MeterBoardConfig {
  /** "CSE7766", or a pulse chip: "HLW8012", "CSE7759", "BL0937", "HJL-01". */
  chip?: string;
  /** CSE7766: the GPIO its TX drives (the ESP's RX). */
  rx?: number;
  /** CSE7766 on an ESP32: the UART to use (default 2; 0 is the console). Ignored on an ESP8266 (always UART0). */
  uart?: number;
  /** Pulse chips: the CF (power) and CF1 (current/voltage) inputs and the SEL output. */
  cf?: number;
  cf1?: number;
  sel?: number;
  /** SEL reaches the chip inverted (relative to the chip's datasheet polarity). */
  selInverted?: boolean | string;
  /** Pulse chips: voltage divider ratio and shunt (ohms) when the board differs from the defaults. */
  divider?: number;
  shunt_ohm?: number;
  /** The plug's rated current in mA (readings beyond 1.25 times it are rejected); default 16 A. */
  ratedCurrent?: number;
  /** Simulator only: constant watts, or [[ms, watts], ...] steps (default 0: nothing plugged in). */
  load?: number | ReadonlyArray<readonly [number, number]>;
  /** Simulator only: the mains voltage (default 230). */
  volts?: number;
}

export function boardConfig(): BoardConfig {
  const plug = (config as Record<string, unknown>).plug;
  return typeof plug === "object" && plug !== null ? (plug as BoardConfig) : {};
}

/**
 * A setting of the build rather than the board: `config.plug`'s, else the config's top level, where
 * mcconfig's name=value arguments land (scripts/build-settings.mjs passes the version and the key).
 */
export function buildSetting(name: "updateKey" | "firmwareVersion"): unknown {
  return boardConfig()[name] ?? (config as Record<string, unknown>)[name];
}

/** mcconfig command-line overrides arrive as strings: numbers and booleans are read either way. */
export function pin(value: unknown): number | undefined {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** A power-on policy from the board, "last" when absent or unknown. */
export function powerOn(value: unknown): "last" | "on" | "off" | "schedule" {
  return value === "on" || value === "off" || value === "schedule" ? value : "last";
}

/** The plug's protocols from the board: "legacy" when absent or unknown, or where the platform has no KLAP (`klap` false). */
export function plugMode(value: unknown, klap?: unknown): "legacy" | "secure" | "both" {
  return (value === "secure" || value === "both") && unlessNo(klap) ? value : "legacy";
}

/** A flag that is on unless the board says false (mcconfig overrides arrive as strings). */
export function unlessNo(value: unknown): boolean {
  return !(value === false || value === 0 || value === "0" || value === "false");
}

/** The update key's bytes from its hex (130 digits, 04 first); undefined when absent or not that. */
export function updateKey(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string" || value.length !== 130) return undefined;
  const key = new Uint8Array(65);
  for (let i = 0; i < 65; i++) {
    const high = hexValue(value.charCodeAt(2 * i));
    const low = hexValue(value.charCodeAt(2 * i + 1));
    if (high < 0 || low < 0) return undefined;
    key[i] = (high << 4) | low;
  }
  return key[0] === 4 ? key : undefined;
}

/** A version text the update header could carry (1-32 printable ASCII), else undefined. */
export function firmwareVersion(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length < 1 || value.length > 32) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return undefined;
  }
  return value;
}

/** The board's ownerPage: true, false, or undefined (the plug's default for its mode). */
export function ownerPage(value: unknown): boolean | undefined {
  return value === undefined ? undefined : yes(value);
}

/**
 * Whether the plug will serve the owner's page (and so needs the crypto port): as the board says,
 * else on unless the mode is secure. The manifest's esp platform says false: it does not fit an
 * ESP8266 (docs/MEMORY.md, "The owner's page on the chip-true heap").
 */
export function ownerPageOn(value: unknown, mode: "legacy" | "secure" | "both"): boolean {
  return ownerPage(value) ?? mode !== "secure";
}

export function yes(value: unknown): boolean {
  return value === true || value === 1 || value === "1" || value === "true";
}
