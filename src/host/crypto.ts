// The crypto port on Node: node:crypto's hashes and AES-128-CBC without padding (the core pads).

import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import type { CryptoPort } from "../ports/ports.js";

function digest(algorithm: string, a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array {
  const hash = createHash(algorithm).update(a);
  if (b) hash.update(b);
  if (c) hash.update(c);
  if (d) hash.update(d);
  return new Uint8Array(hash.digest());
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
};
