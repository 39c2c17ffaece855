// ECDSA P-256 over SHA-256 on Moddable, for signed updates (CryptoPort.p256Verifier): the image
// streams through one of the crypto port's SHA-256 Digests, and the signature is checked by the SDK's
// ECDSA (p256-sdk.js: modules/crypt/etc/ecdsa.js, curve.js, natives in modules/crypt/arith).
// Built only where updates are (the esp32 platform; the simulator's crypto self-test): an ESP8266 has
// neither the flash for a second image nor these modules.
//
// The SDK checks nothing of what it is given (p256-sdk.js), so this does, and answers false, never
// an exception, for: a key that is not 65 bytes 0x04 || x || y with x, y < p and y² = x³ - 3x + b
// (mod p); a signature that is not 64 bytes; r or s outside [1, n-1] (s + n or r + n would otherwise
// be a second encoding of the same signature, and 0 an input the natives were not written for);
// a second verify (the digest is spent).

import type { P256Verifier, Sha256Stream } from "../ports/ports.js";
import { sdkP256Verify } from "./p256-sdk.js";

/** The field prime, b, and the group order of P-256 (SEC 2, secp256r1; a = -3). */
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;

const KEY_BYTES = 65;
const SIGNATURE_BYTES = 64;
const HALF = 32;
const HEX = "0123456789abcdef";

/** 32 bytes from `at`, big-endian, as a BigInt (through hex text: XS and Node alike). */
function bigAt(bytes: Uint8Array, at: number): bigint {
  let text = "0x";
  for (let i = at; i < at + HALF; i++) {
    const b = bytes[i];
    text += HEX[b >> 4] + HEX[b & 15];
  }
  return BigInt(text);
}

/** The key's coordinates when it is an uncompressed point on P-256, else null. */
function pointOf(key: Uint8Array): [bigint, bigint] | null {
  if (key.length !== KEY_BYTES || key[0] !== 4) return null;
  const x = bigAt(key, 1);
  const y = bigAt(key, 1 + HALF);
  if (x >= P || y >= P) return null;
  // y² = x³ + ax + b = x(x² + a) + b (mod p)
  return (y * y) % P === (((x * x + A) % P) * x + B) % P ? [x, y] : null;
}

class P256Check implements P256Verifier {
  private readonly point: [bigint, bigint] | null;
  private sha: Sha256Stream | null;

  constructor(publicKey: Uint8Array, sha: Sha256Stream) {
    this.point = pointOf(publicKey);
    this.sha = this.point === null ? null : sha;
  }

  write(bytes: Uint8Array): void {
    this.sha?.write(bytes);
  }

  verify(signature: Uint8Array): boolean {
    const sha = this.sha;
    const point = this.point;
    this.sha = null;
    if (sha === null || point === null || signature.length !== SIGNATURE_BYTES) return false;
    const r = bigAt(signature, 0);
    const s = bigAt(signature, HALF);
    if (r < 1n || r >= N || s < 1n || s >= N) return false;
    const hash = sha.close();
    try {
      return sdkP256Verify(point[0], point[1], hash.buffer as ArrayBuffer, signature);
    } catch {
      return false;
    }
  }
}

/** A check of one signed stream under `publicKey` (65 bytes, uncompressed), hashing with `sha`. */
export function p256Verifier(publicKey: Uint8Array, sha: Sha256Stream): P256Verifier {
  return new P256Check(publicKey, sha);
}
