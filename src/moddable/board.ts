// The board's description as its Moddable target manifest gives it (`config.plug`): pin numbers
// live in boards/<name>/manifest.json only; this file only reads them.

import config from "mc/config";

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
  /** The energy meter chip and its pins (src/moddable/meter.ts); absent: no meter. */
  meter?: MeterBoardConfig;
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

export function yes(value: unknown): boolean {
  return value === true || value === 1 || value === "1" || value === "true";
}
