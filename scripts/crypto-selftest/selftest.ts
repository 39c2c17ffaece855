// The Moddable crypto port's self-test, run in the Linux simulator by scripts/crypto-selftest.mjs:
// src/moddable/crypto.ts over the SDK's crypt natives, driven by the KLAP core (src/core/klap/klap.ts)
// through python-kasa's vectors (host-tests/xs/klap-check.ts), and the port's own paths (a view
// encrypted through the scratch buffer, a whole buffer in place), and signed updates' ECDSA P-256
// (p256-check.ts). Prints one line per failure and a last line the script waits for: "crypto
// self-test: pass N" or "crypto self-test: FAIL N of M".

import { ModdableCrypto } from "../../src/moddable/crypto.js";
import { p256Verifier } from "../../src/moddable/p256.js";
import { p256Checks, type P256Vectors } from "./p256-check.js";
import { fromHex, klapExpected, klapMismatches, klapResults, toHex, type KlapVectors } from "../../host-tests/xs/klap-check.js";

/** 0, 1, 2, ... 255, 0, ... */
function counting(length: number, from: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (from + i) & 0xff;
  return out;
}

/** The same plaintext encrypted as a whole buffer, as a view at offset 32 (the scratch path), and back. */
function portPaths(crypto: ModdableCrypto): string[] {
  const bad: string[] = [];
  const key = fromHex("000102030405060708090a0b0c0d0e0f");
  const iv = counting(16, 0x40);
  for (const length of [16, 64, 80, 208, 2048 + 16]) {
    const whole = counting(length, length);
    crypto.aes128Cbc(true, key, iv, whole);
    const body = new Uint8Array(32 + length);
    body.set(counting(length, length), 32);
    const view = body.subarray(32);
    crypto.aes128Cbc(true, key, iv, view);
    if (toHex(view) !== toHex(whole)) bad.push(`aes ${length}: a view encrypts otherwise than a whole buffer`);
    for (let i = 0; i < 32; i++) if (body[i] !== 0) bad.push(`aes ${length}: wrote before the view`);
    crypto.aes128Cbc(false, key, iv, view);
    if (toHex(view) !== toHex(counting(length, length))) bad.push(`aes ${length}: a view does not decrypt back`);
    crypto.aes128Cbc(false, key, iv, whole);
    if (toHex(whole) !== toHex(counting(length, length))) bad.push(`aes ${length}: a whole buffer does not decrypt back`);
  }
  // FIPS 197 appendix C.1 (AES-128, one block; CBC with a zero IV is the bare cipher on the first block)
  const block = fromHex("00112233445566778899aabbccddeeff");
  crypto.aes128Cbc(true, key, new Uint8Array(16), block);
  if (toHex(block) !== "69c4e0d86a7b0430d8cdb78070b4c55a") bad.push(`aes FIPS 197 C.1: ${toHex(block)}`);
  // FIPS 180 "abc", RFC 1321 "abc"
  const abc = fromHex("616263");
  const want: [string, Uint8Array, string][] = [
    ["md5", crypto.md5(abc), "900150983cd24fb0d6963f7d28e17f72"],
    ["sha1", crypto.sha1(abc), "a9993e364706816aba3e25717850c26c9cd0d89d"],
    ["sha256", crypto.sha256(abc), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["sha256 in parts", crypto.sha256(abc.subarray(0, 1), abc.subarray(1, 1), abc.subarray(1)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ];
  for (const [what, got, expected] of want) if (toHex(got) !== expected) bad.push(`${what}("abc"): ${toHex(got)}`);
  return bad;
}

export default function selftest(vectors: KlapVectors, p256: P256Vectors): void {
  const crypto = new ModdableCrypto(p256Verifier);
  const started = Date.now();
  const expected = klapExpected(vectors);
  const bad = klapMismatches(klapResults(crypto, vectors), expected);
  const klapMs = Date.now() - started;
  const own = portPaths(crypto);
  for (const line of bad) trace(`crypto self-test: ${line}\n`);
  for (const line of own) trace(`crypto self-test: ${line}\n`);
  const signed = p256Checks(crypto, p256);
  for (const line of signed.bad) trace(`crypto self-test: ${line}\n`);
  for (const line of signed.lines) trace(`crypto self-test: ${line}\n`);
  const total = expected.length + 1 + signed.cases;
  const failed = bad.length + (own.length > 0 ? 1 : 0) + signed.bad.length;
  trace(`crypto self-test: ${expected.length} KLAP results from python-kasa's vectors in ${klapMs} ms, the port's own paths: ${own.length === 0 ? "pass" : "FAIL"}, ${signed.cases} P-256 cases: ${signed.bad.length === 0 ? "pass" : "FAIL"}\n`);
  trace(failed === 0 ? `crypto self-test: pass ${total}\n` : `crypto self-test: FAIL ${failed} of ${total}\n`);
}
