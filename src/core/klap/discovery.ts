// Discovery on UDP 20002 (issue 18), as newer Kasa plugs answer it: python-kasa sends a TDP probe
// (kasa/discover.py _AesDiscoveryQuery: a 16-byte header, version 2, message type 0, op code 1, the
// payload's length, flags, a serial and a CRC-32, then {"params":{"rsa_key":...}}; older releases the
// header alone) and reads the answer's JSON after its first 16 bytes (_get_discovery_json,
// DiscoveryResult): device_type IOT.SMARTPLUGSWITCH with mgt_encrypt_schm encrypt_type KLAP makes
// it talk IOT JSON over KLAP to http_port. Only a probe with a valid header and CRC is answered;
// answers are bounded and rate limited as the 9999 UDP ones (limits.ts udpBudgets), and a datagram
// from port 0 is dropped. The answer is written into one small array, no string built; no secret is
// in it (`owner` is empty: a hash of the owner's account would tell the LAN who owns the plug).

import type { DatagramPort, LogPort, WifiPort } from "../../ports/ports.js";
import type { Device } from "../device/device.js";
import { udpAdmit, udpBudgets, udpSpend, type Limits } from "../limits.js";
import { errorText } from "../protocol/errors.js";
import type { KlapKeys } from "./klap-server.js";

/** The port python-kasa's probe goes to. */
export const DISCOVERY_PORT = 20002;
/** The TDP header in front of a probe and of its answer. */
export const TDP_HEADER_BYTES = 16;
/** The largest probe answered (python-kasa's, with a 2048-bit RSA key in PEM, is under 600 bytes). */
export const MAX_PROBE_BYTES = 1024;
/** The answer's array: the header and the JSON, whose every value is bounded (ASCII, at most 64 bytes each). */
export const MAX_DISCOVERY_ANSWER_BYTES = 512;
/** What the CRC field holds while the CRC is computed (kasa/discover.py initial_crc). */
const TDP_CRC_SEED = 0x5a6b7c8d;

/** The lines of the answer, in flash: each followed by a value (ANSWER_VALUES says which). */
const PARTS = Object.freeze([
  '{"result":{"device_type":"IOT.SMARTPLUGSWITCH","device_model":"',
  '","device_id":"',
  '","ip":"',
  '","mac":"',
  '","hw_ver":"',
  '","owner":"","factory_default":',
  ',"mgt_encrypt_schm":{"is_support_https":false,"encrypt_type":"KLAP","http_port":',
  '}},"error_code":0}',
]);

export interface DiscoveryPorts {
  /** The plug's limited log. */
  log: LogPort;
  /** Monotonic milliseconds. */
  now: () => number;
  /** The station's address, for the answer's `ip` (WifiPort.address). */
  wifi: WifiPort;
}

/** The CRC-32 (IEEE, as zlib's) of `bytes`, with the 4 bytes at 12 read as TDP_CRC_SEED; bitwise, no table in RAM. */
export function tdpCrc(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    const byte = i >= 12 && i < 16 ? (TDP_CRC_SEED >>> (8 * (15 - i))) & 0xff : bytes[i];
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Whether `bytes` starts with a probe's TDP header: version 2, type 0, op code 1, the payload's length (the CRC not checked yet). */
function probeHeader(bytes: Uint8Array): boolean {
  const length = bytes.length;
  if (length < TDP_HEADER_BYTES || length > MAX_PROBE_BYTES) return false;
  if (bytes[0] !== 2 || bytes[1] !== 0 || bytes[2] !== 0 || bytes[3] !== 1) return false;
  return ((bytes[4] << 8) | bytes[5]) === length - TDP_HEADER_BYTES;
}

/** Whether the CRC-32 in a TDP header holds. */
function crcHolds(bytes: Uint8Array): boolean {
  return ((bytes[12] << 24) | (bytes[13] << 16) | (bytes[14] << 8) | bytes[15]) >>> 0 === tdpCrc(bytes);
}

/** Whether `bytes` is a TDP probe: version 2, type 0, op code 1, the payload's length, a CRC that holds. */
export function validProbe(bytes: Uint8Array): boolean {
  return probeHeader(bytes) && crcHolds(bytes);
}

export class KlapDiscovery {
  private udp: DatagramPort | null = null;
  /** The answer budgets, per sender and for the plug (limits.ts). */
  private readonly rows: Float64Array;

  constructor(
    private readonly ports: DiscoveryPorts,
    private readonly device: Device,
    /** Whether the owner set credentials (factory_default is true until then). */
    private readonly keys: KlapKeys,
    /** The KLAP port the answer advertises. */
    private readonly httpPort: number,
    private readonly limits: Limits,
  ) {
    this.rows = udpBudgets(limits, ports.now());
  }

  start(udp: DatagramPort): void {
    this.udp = udp;
    try {
      udp.listen(this.received.bind(this));
    } catch (e) {
      this.ports.log(`udp ${DISCOVERY_PORT}: ${errorText(e)}; KLAP discovery off`);
    }
  }

  stop(): void {
    this.udp?.close();
    this.udp = null;
  }

  private received(bytes: Uint8Array, address: string, port: number): void {
    // Port 0 is no sender's (a forged datagram); anything but a probe gets no answer. What passes the
    // header's cheap checks spends its sender's budget before its CRC is computed (a flood of
    // probe-shaped datagrams is bounded like any other).
    if (port === 0 || !probeHeader(bytes) || !udpAdmit(this.rows, this.limits, this.ports.now(), address) || !crcHolds(bytes)) return;
    const answer = this.answer(bytes);
    this.udp?.send(answer, address, port);
    udpSpend(this.rows, address, answer.length);
  }

  /** The answer to a probe: a TDP header (the probe's serial, the JSON's length, its CRC), then the JSON. */
  answer(probe: Uint8Array): Uint8Array {
    const out = new Uint8Array(MAX_DISCOVERY_ANSWER_BYTES);
    const device = this.device;
    const identity = device.identity;
    let at = TDP_HEADER_BYTES;
    at = ascii(out, at, PARTS[0], false);
    at = ascii(out, at, device.personality.model, true);
    at = ascii(out, at, PARTS[1], false);
    at = ascii(out, at, identity.deviceId, true);
    at = ascii(out, at, PARTS[2], false);
    at = ascii(out, at, this.ports.wifi.address?.() ?? "", true);
    at = ascii(out, at, PARTS[3], false);
    const macAt = at;
    at = ascii(out, at, identity.mac, true);
    for (let i = macAt; i < at; i++) if (out[i] === 0x3a) out[i] = 0x2d; // AA-BB-...: as the fixtures
    at = ascii(out, at, PARTS[4], false);
    at = ascii(out, at, device.personality.hwVer, true);
    at = ascii(out, at, PARTS[5], false);
    at = ascii(out, at, this.keys.authHash() === undefined ? "true" : "false", true);
    at = ascii(out, at, PARTS[6], false);
    at = ascii(out, at, String(this.httpPort), true);
    at = ascii(out, at, PARTS[7], false);
    const json = at - TDP_HEADER_BYTES;
    out.set(probe.subarray(0, 4), 0); // version 2, type 0, op code 1
    out[4] = json >> 8;
    out[5] = json & 0xff;
    out[6] = 0x11; // flags, as the probe's
    out[7] = 0;
    out.set(probe.subarray(8, 12), 8); // the probe's serial
    const answer = out.subarray(0, at);
    const crc = tdpCrc(answer);
    for (let i = 0; i < 4; i++) out[12 + i] = (crc >>> (24 - 8 * i)) & 0xff;
    return answer;
  }
}

/**
 * Writes `text` as ASCII at `at`, stopping short of the array's end; in a `value` each character
 * outside printable ASCII, a quote or a backslash as '?' (the values are the plug's own, checked
 * when set: this only keeps the JSON whole). Returns where it ended.
 */
function ascii(out: Uint8Array, at: number, text: string, value: boolean): number {
  const end = Math.min(out.length, at + text.length);
  for (let i = 0; at < end; i++) {
    const c = text.charCodeAt(i);
    out[at++] = value && (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) ? 0x3f : c;
  }
  return at;
}
