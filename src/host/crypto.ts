// The crypto port on Node: node:crypto's hashes, AES-128-CBC without padding (the core pads) and
// ECDSA P-256 checks (signed updates).

import { createCipheriv, createDecipheriv, createHash, createPublicKey, createVerify, type KeyObject, type Verify } from "node:crypto";
import type { CryptoPort, P256Verifier } from "../ports/ports.js";

function digest(algorithm: string, a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array {
  const hash = createHash(algorithm).update(a);
  if (b) hash.update(b);
  if (c) hash.update(c);
  if (d) hash.update(d);
  return new Uint8Array(hash.digest());
}

/** base64url of bytes, for a JWK's coordinates. */
function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** The key from its 65 uncompressed bytes; null when they are not a point on P-256. */
export function p256PublicKey(raw: Uint8Array): KeyObject | null {
  if (raw.length !== 65 || raw[0] !== 4) return null;
  try {
    return createPublicKey({ key: { kty: "EC", crv: "P-256", x: base64url(raw.subarray(1, 33)), y: base64url(raw.subarray(33)) }, format: "jwk" });
  } catch {
    return null;
  }
}

class NodeP256Verifier implements P256Verifier {
  private readonly check: Verify = createVerify("sha256");
  constructor(private readonly key: KeyObject | null) {}
  write(bytes: Uint8Array): void {
    this.check.update(bytes);
  }
  verify(signature: Uint8Array): boolean {
    if (this.key === null || signature.length !== 64) return false;
    try {
      return this.check.verify({ key: this.key, dsaEncoding: "ieee-p1363" }, signature);
    } catch {
      return false;
    }
  }
}

export const nodeCrypto: CryptoPort = {
  md5: (a, b, c, d) => digest("md5", a, b, c, d),
  sha1: (a, b, c, d) => digest("sha1", a, b, c, d),
  sha256: (a, b, c, d) => digest("sha256", a, b, c, d),
  aes128Cbc(encrypt, key, iv, data) {
    const cipher = encrypt ? createCipheriv("aes-128-cbc", key, iv) : createDecipheriv("aes-128-cbc", key, iv);
    cipher.setAutoPadding(false);
    const head = cipher.update(data);
    const tail = cipher.final();
    data.set(head, 0);
    data.set(tail, head.length);
  },
  sha256Stream() {
    const hash = createHash("sha256");
    return {
      write: (bytes) => void hash.update(bytes),
      close: () => new Uint8Array(hash.digest()),
    };
  },
  p256Verifier: (publicKey) => new NodeP256Verifier(p256PublicKey(publicKey)),
};
