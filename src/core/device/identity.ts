// Device identity: the MAC address and the ids derived from it. Derived ids are stable for the life
// of the hardware (same MAC, same ids, across restarts and factory resets) and differ between
// devices, which is what clients key devices by (tplink-smarthome-api by deviceId, Home Assistant by MAC).

import { hexValue } from "../protocol/params.js";

const HEX = "0123456789ABCDEF";

/** "AA:BB:CC:DD:EE:FF" from six bytes. */
export function formatMac(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 6; i++) {
    if (i > 0) s += ":";
    s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  }
  return s;
}

/**
 * Parses a MAC written with ':' or '-' separators (python-kasa and the Kasa app differ) or none,
 * in either case, into its six bytes.
 */
export function parseMacBytes(text: unknown): Uint8Array | undefined {
  if (typeof text !== "string" || (text.length !== 17 && text.length !== 12)) return undefined;
  const bytes = new Uint8Array(6);
  const step = text.length === 17 ? 3 : 2;
  for (let i = 0; i < 6; i++) {
    const at = i * step;
    const hi = hexValue(text.charCodeAt(at));
    const lo = hexValue(text.charCodeAt(at + 1));
    if (hi < 0 || lo < 0) return undefined;
    if (step === 3 && i < 5) {
      const sep = text.charCodeAt(at + 2);
      if (sep !== 58 && sep !== 45) return undefined; // ':' or '-'
    }
    bytes[i] = (hi << 4) | lo;
  }
  return bytes;
}

/** A MAC in any accepted form, normalised as upper-case "AA:BB:CC:DD:EE:FF". */
export function parseMac(text: unknown): string | undefined {
  const bytes = parseMacBytes(text);
  return bytes === undefined ? undefined : formatMac(bytes);
}

/** `digits` hex characters derived from `seed` with FNV-1a (not a secret, only stable and spread). */
export function deriveHex(seed: string, digits: number): string {
  let out = "";
  for (let block = 0; out.length < digits; block++) {
    let h = 0x811c9dc5 ^ block;
    for (let i = 0; i < seed.length; i++) {
      h ^= seed.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    // one more avalanche round so that neighbouring blocks do not look alike
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    for (let k = 7; k >= 0; k--) out += HEX[(h >>> (k * 4)) & 15];
  }
  return out.slice(0, digits);
}

export interface Identity {
  mac: string;
  deviceId: string;
  hwId: string;
  oemId: string;
}

/** The ids a device with this MAC has out of the factory. Real deviceIds start with 8006. */
export function deriveIdentity(mac: string): Identity {
  return {
    mac,
    deviceId: "8006" + deriveHex(mac + "/deviceId", 36),
    hwId: deriveHex(mac + "/hwId", 32),
    oemId: deriveHex(mac + "/oemId", 32),
  };
}

/** The four hex digits that name the device: "TP-LINK_Smart Plug_" + these (PROTOCOL §4). */
export function macSuffix(mac: string): string {
  return mac.slice(12, 14) + mac.slice(15, 17);
}
