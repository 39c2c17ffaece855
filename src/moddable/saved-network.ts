// The saved Wi-Fi network on Moddable `preference`, crash-safe: a power cut at any point of a save
// leaves the old network or the new one, whole, never a mix of one's name and the other's password
// and never nothing (SECURITY.md, "Crash-safe settings").
//
// A network does not fit one record (an ESP8266 Preference value is at most 63 bytes: a 32-byte name
// and a 63-byte passphrase are 95), so it is kept in one of two banks, each two records: "n" + bank
// (a header and the name) and "p" + bank (the password's bytes; absent for an open network). The
// header holds a generation and a 32-bit check over everything, the password included. A save writes
// the bank not in use, password first and header last; only a complete bank passes its check, and
// of two, the newer generation wins. Then the old bank is deleted, so an old password does not stay on flash.
//
// No Moddable import: the `preference` module is handed in (the host tests drive this with a store
// that loses power at every step).

import type { WifiCredentials, WifiKeyType } from "../ports/ports.js";
import { hex, hexValue } from "../core/protocol/params.js";
import { utf8Decode, utf8Encode } from "../core/protocol/wire/utf8.js";

/** The part of Moddable's `preference` used here. */
export interface PreferenceRecords {
  get(domain: string, key: string): unknown;
  set(domain: string, key: string, value: ArrayBuffer | number): void;
  delete(domain: string, key: string): void;
}

export const WIFI_DOMAIN = "wifi";
/** Header: generation, key type, password kind, 4 check bytes, then the name. */
const HEADER = 7;
const MAX_SSID_BYTES = 32;
/** Password kinds: none (open), text (a passphrase), raw (a 64-hex-digit key kept as its 32 bytes). */
const NONE = 0;
const TEXT = 1;
const RAW = 2;
/** Records of the firmware before banks (read once, removed by the next save or forget). */
const LEGACY = Object.freeze(["ssid", "key", "psk", "pskx"]);

interface Bank {
  generation: number;
  credentials: WifiCredentials;
}

export class SavedNetworkStore {
  constructor(private readonly prefs: PreferenceRecords) {}

  /** The saved network with its password, or undefined when none (or nothing whole) is saved. */
  load(): WifiCredentials | undefined {
    const a = this.bank(0);
    const b = this.bank(1);
    if (a !== undefined && b !== undefined) return newer(a.generation, b.generation) ? a.credentials : b.credentials;
    return a?.credentials ?? b?.credentials ?? this.legacy();
  }

  /** Saves a network; false when the store refused (then the old one is still saved). */
  save(c: WifiCredentials): boolean {
    const ssid = utf8Encode(c.ssid);
    if (ssid.length === 0 || ssid.length > MAX_SSID_BYTES) return false;
    const raw = c.password.length === 64 ? hexBytes(c.password) : undefined;
    const password = raw ?? utf8Encode(c.password);
    if (password.length > 63) return false;
    const kind = password.length === 0 ? NONE : raw !== undefined ? RAW : TEXT;
    const a = this.bank(0);
    const b = this.bank(1);
    // the bank in use keeps the old network until the new one is whole
    const inUse = a !== undefined && (b === undefined || newer(a.generation, b.generation)) ? 0 : b !== undefined ? 1 : -1;
    const target = inUse === 0 ? 1 : 0;
    const generation = inUse < 0 ? 1 : ((inUse === 0 ? a! : b!).generation + 1) & 255;
    const header = new Uint8Array(HEADER + ssid.length);
    header[0] = generation;
    header[1] = c.keyType;
    header[2] = kind;
    header.set(ssid, HEADER);
    putCheck(header, check(header, kind === NONE ? undefined : password));
    try {
      if (kind === NONE) this.remove("p" + target);
      else this.prefs.set(WIFI_DOMAIN, "p" + target, copy(password));
      this.prefs.set(WIFI_DOMAIN, "n" + target, copy(header));
    } catch {
      return false; // full, or failing: the bank in use is untouched
    }
    // the new network is whole: the old one goes, header first (a bank without it is nothing)
    this.remove("n" + (1 - target));
    this.remove("p" + (1 - target));
    for (let i = 0; i < LEGACY.length; i++) this.remove(LEGACY[i]);
    return true;
  }

  /** Forgets every saved network (both banks and the old records). */
  forget(): void {
    for (let i = 0; i < 2; i++) {
      this.remove("n" + i);
      this.remove("p" + i);
    }
    for (let i = 0; i < LEGACY.length; i++) this.remove(LEGACY[i]);
  }

  private bank(i: number): Bank | undefined {
    const header = this.bytes("n" + i);
    if (header === undefined || header.length <= HEADER || header.length > HEADER + MAX_SSID_BYTES) return undefined;
    const keyType = header[1];
    const kind = header[2];
    if (keyType > 3 || kind > RAW) return undefined;
    const password = kind === NONE ? undefined : this.bytes("p" + i);
    if (kind !== NONE && (password === undefined || (kind === RAW && password.length !== 32))) return undefined;
    if (check(header, password) !== readCheck(header)) return undefined;
    const ssid = utf8Decode(header.subarray(HEADER));
    const text = password === undefined ? "" : kind === RAW ? hexText(password) : utf8Decode(password);
    return { generation: header[0], credentials: { ssid, keyType: keyType as WifiKeyType, password: text } };
  }

  /** The records of the firmware before banks: name, key type, and a passphrase or a raw key. */
  private legacy(): WifiCredentials | undefined {
    const ssid = this.bytes("ssid");
    if (ssid === undefined) return undefined;
    let key: unknown;
    try {
      key = this.prefs.get(WIFI_DOMAIN, "key");
    } catch {
      key = 3;
    }
    const raw = this.bytes("pskx");
    const psk = this.bytes("psk");
    const password = raw !== undefined ? hexText(raw) : psk !== undefined ? utf8Decode(psk) : "";
    return { ssid: utf8Decode(ssid), keyType: key === 0 || key === 2 || key === 3 ? key : 3, password };
  }

  private bytes(key: string): Uint8Array | undefined {
    try {
      const v = this.prefs.get(WIFI_DOMAIN, key);
      return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
    } catch {
      return undefined;
    }
  }

  private remove(key: string): void {
    try {
      this.prefs.delete(WIFI_DOMAIN, key);
    } catch {
      // already gone
    }
  }
}

/** Whether generation a is newer than b (serial numbers of 8 bits: a save only ever steps by one). */
function newer(a: number, b: number): boolean {
  return a !== b && ((a - b) & 255) < 128;
}

/** FNV-1a, 32 bits, over the header (its check bytes left out) and the password. */
function check(header: Uint8Array, password: Uint8Array | undefined): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < header.length; i++) {
    if (i >= 3 && i < HEADER) continue;
    h = Math.imul(h ^ header[i], 0x01000193);
  }
  // the password's length goes in too, so that moving bytes between the two records is noticed
  h = Math.imul(h ^ (password === undefined ? 0xff : password.length), 0x01000193);
  if (password !== undefined) for (let i = 0; i < password.length; i++) h = Math.imul(h ^ password[i], 0x01000193);
  return h >>> 0;
}

function putCheck(header: Uint8Array, value: number): void {
  header[3] = value >>> 24;
  header[4] = (value >>> 16) & 255;
  header[5] = (value >>> 8) & 255;
  header[6] = value & 255;
}

function readCheck(header: Uint8Array): number {
  return ((header[3] << 24) | (header[4] << 16) | (header[5] << 8) | header[6]) >>> 0;
}

/** An ArrayBuffer of exactly these bytes (a subarray's buffer may be larger). */
function copy(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out.buffer as ArrayBuffer;
}

/** 64 hex digits as their 32 bytes. */
function hexBytes(text: string): Uint8Array | undefined {
  if (hex(text, 64) === undefined) return undefined;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = (hexValue(text.charCodeAt(2 * i)) << 4) | hexValue(text.charCodeAt(2 * i + 1));
  return bytes;
}

function hexText(bytes: Uint8Array): string {
  const digits = "0123456789abcdef";
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += digits[bytes[i] >> 4] + digits[bytes[i] & 15];
  return s;
}
