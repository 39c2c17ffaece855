// The P-256 part of the simulator's crypto self-test (scripts/crypto-selftest.mjs): signed-update
// checks through src/moddable/crypto.ts and p256.ts over the SDK's ECDSA natives, on a signature
// node:crypto made (P-256, SHA-256, ieee-p1363) over a message in several parts. Returns one line per
// failure, and what it measured: the time of a verify and what one check allocates (where the
// build is instrumented, -i).

import Debug from "debug";
import Instrumentation from "instrumentation";
import type { ModdableCrypto } from "../../src/moddable/crypto.js";
import { sdkP256Verify } from "../../src/moddable/p256-sdk.js";
import { fromHex, toHex } from "../../host-tests/xs/klap-check.js";

/** What the script gives: keys (65 bytes, uncompressed) and the parts and signature, all hex. */
export interface P256Vectors {
  key: string;
  otherKey: string;
  parts: string[];
  signature: string;
  /** The group order n, 32 bytes. */
  n: string;
}

function check(crypto: ModdableCrypto, key: Uint8Array, parts: Uint8Array[], signature: Uint8Array): boolean {
  const verifier = crypto.p256Verifier(key);
  for (const part of parts) verifier.write(part);
  return verifier.verify(signature);
}

/** `bytes` with byte `at` xor 1. */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] ^= 1;
  return copy;
}

function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** What the SDK's ECDSA alone says (no range check of ours): true, false or the exception. */
function sdkAlone(key: Uint8Array, hash: Uint8Array, signature: Uint8Array): string {
  const x = BigInt(`0x${toHex(key.subarray(1, 33))}`);
  const y = BigInt(`0x${toHex(key.subarray(33))}`);
  try {
    return String(sdkP256Verify(x, y, hash.slice().buffer as ArrayBuffer, signature));
  } catch (e) {
    return `throws (${String(e)})`;
  }
}

export interface P256Report {
  bad: string[];
  cases: number;
  lines: string[];
}

export function p256Checks(crypto: ModdableCrypto, v: P256Vectors): P256Report {
  const key = fromHex(v.key);
  const parts = v.parts.map(fromHex);
  const signature = fromHex(v.signature);
  const r = signature.subarray(0, 32);
  const s = signature.subarray(32);
  const n = fromHex(v.n);
  const zero = new Uint8Array(32);
  const ones = new Uint8Array(32).fill(0xff);
  const offCurve = flipped(key, 64); // y's last bit: no longer on the curve
  const cases: [string, boolean, () => boolean][] = [
    ["the signature over the parts", true, () => check(crypto, key, parts, signature)],
    ["the same bytes in other parts (one byte at a time for the first)", true, () => check(crypto, key, [...Array.from(parts[0], (b) => Uint8Array.of(b)), ...parts.slice(1)], signature)],
    ["a tampered byte of the message", false, () => check(crypto, key, [parts[0], flipped(parts[1], 7), ...parts.slice(2)], signature)],
    ["a message one byte short", false, () => check(crypto, key, [parts[0], parts[1].subarray(1), ...parts.slice(2)], signature)],
    ["a tampered byte of r", false, () => check(crypto, key, parts, flipped(signature, 5))],
    ["a tampered byte of s", false, () => check(crypto, key, parts, flipped(signature, 60))],
    ["another key", false, () => check(crypto, fromHex(v.otherKey), parts, signature)],
    ["a key not on the curve", false, () => check(crypto, offCurve, parts, signature)],
    ["a compressed-form key prefix", false, () => check(crypto, Uint8Array.of(2, ...key.subarray(1)), parts, signature)],
    ["a 64-byte key", false, () => check(crypto, key.subarray(1), parts, signature)],
    ["r = 0", false, () => check(crypto, key, parts, joined(zero, s))],
    ["s = 0", false, () => check(crypto, key, parts, joined(r, zero))],
    ["r = n", false, () => check(crypto, key, parts, joined(n, s))],
    ["s = n", false, () => check(crypto, key, parts, joined(r, n))],
    ["s = 2^256 - 1", false, () => check(crypto, key, parts, joined(r, ones))],
    ["a 63-byte signature", false, () => check(crypto, key, parts, signature.subarray(0, 63))],
    ["a 65-byte signature", false, () => check(crypto, key, parts, joined(signature, Uint8Array.of(0)))],
    ["no signature", false, () => check(crypto, key, parts, new Uint8Array(0))],
  ];
  const bad: string[] = [];
  for (const [what, want, run] of cases) {
    let got: boolean | string;
    try {
      got = run();
    } catch (e) {
      got = `throws ${String(e)}`;
    }
    if (got !== want) bad.push(`p256 ${what}: ${String(got)}, expected ${want}`);
  }
  // a verifier answers once: the digest is spent
  const once = crypto.p256Verifier(key);
  for (const part of parts) once.write(part);
  if (!once.verify(signature) || once.verify(signature)) bad.push("p256 a second verify on the same check: not false");

  const lines: string[] = [];
  // the time of a verify (the hashing of the few parts is a small part of it)
  const rounds = 5;
  const started = Date.now();
  for (let i = 0; i < rounds; i++) check(crypto, key, parts, signature);
  const ms = (Date.now() - started) / rounds;
  let bytes = 0;
  for (const part of parts) bytes += part.length;
  lines.push(`p256: a verify (${bytes} bytes hashed in ${parts.length} parts, then ECDSA) takes ${ms.toFixed(1)} ms in this simulator (mean of ${rounds})`);
  // what one check allocates, where the build is instrumented (-i): the chunk and slot heaps before
  // and after it, collected first and not collecting during it (Debug.gc(false)), so the difference
  // is everything it allocated. The simulator's slots are 32 bytes (64-bit), a chip's 16.
  const chunkId = Instrumentation.map("XS Chunk Heap Used");
  const slotId = Instrumentation.map("XS Slot Heap Used");
  const gcId = Instrumentation.map("XS Garbage Collection Count");
  if (Instrumentation.get(chunkId) !== undefined) {
    Debug.gc();
    const chunk0 = Instrumentation.get(chunkId) ?? 0;
    const slot0 = Instrumentation.get(slotId) ?? 0;
    const gc0 = Instrumentation.get(gcId) ?? 0;
    Debug.gc(false);
    check(crypto, key, parts, signature);
    const chunk1 = Instrumentation.get(chunkId) ?? 0;
    const slot1 = Instrumentation.get(slotId) ?? 0;
    const gc1 = Instrumentation.get(gcId) ?? 0;
    Debug.gc(true);
    const slots = (slot1 - slot0) / 32;
    lines.push(`p256: one check allocates ${chunk1 - chunk0} bytes of chunks and ${slots} slots (${slots * 16} bytes on a 32-bit chip), ${gc1 - gc0} collections during it (instrumented simulator build; all of it garbage once the check is dropped)`);
  } else {
    lines.push("p256: allocation not measured (the build is not instrumented)");
  }
  // what the SDK's ECDSA says alone, for the record: the range checks above are p256.ts's own
  const hashOf = crypto.sha256Stream();
  for (const part of parts) hashOf.write(part);
  const hash = hashOf.close();
  lines.push(`p256: the SDK's ECDSA alone, without p256.ts's checks: r = 0 -> ${sdkAlone(key, hash, joined(zero, s))}; s = n -> ${sdkAlone(key, hash, joined(r, n))}; r = n -> ${sdkAlone(key, hash, joined(n, s))}; key off the curve -> ${sdkAlone(offCurve, hash, signature)}`);
  return { bad, cases: cases.length + 1, lines };
}
