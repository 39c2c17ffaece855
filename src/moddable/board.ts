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

export function yes(value: unknown): boolean {
  return value === true || value === 1 || value === "1" || value === "true";
}
