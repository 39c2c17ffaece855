// Readers for method parameters. Each returns undefined when the value is missing or unusable, so a
// method validates everything first and changes state only when every read succeeded.

import { utf8Length } from "./wire/utf8.js";

export type Params = { readonly [key: string]: unknown };

/** What a method gets for parameters sent as `null`, and `"*"` for any (dispatcher.ts); values that are not objects are refused. */
export const NO_PARAMS: Params = Object.freeze({});

export function has(params: Params, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(params, key) && params[key] !== undefined;
}

/** A 0/1 flag; JSON booleans are accepted too (python-kasa and tplink-smarthome-api send them). */
export function flag(value: unknown): 0 | 1 | undefined {
  if (value === 0 || value === false) return 0;
  if (value === 1 || value === true) return 1;
  return undefined;
}

/** An integer within [min, max]. */
export function int(value: unknown, min: number, max: number): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

/** A finite number within [min, max]. */
export function num(value: unknown, min: number, max: number): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max ? value : undefined;
}

/** A string of at most `maxBytes` bytes of UTF-8 (and at least `minBytes`). */
export function str(value: unknown, maxBytes: number, minBytes = 0): string | undefined {
  if (typeof value !== "string") return undefined;
  if (value.length > maxBytes) return undefined; // every UTF-16 unit is at least one byte
  const n = utf8Length(value);
  return n >= minBytes && n <= maxBytes ? value : undefined;
}

/** Exactly `digits` hexadecimal characters, returned upper-case. */
export function hex(value: unknown, digits: number): string | undefined {
  if (typeof value !== "string" || value.length !== digits) return undefined;
  for (let i = 0; i < digits; i++) if (hexValue(value.charCodeAt(i)) < 0) return undefined;
  return value.toUpperCase();
}

export function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
