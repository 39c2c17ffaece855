// TP-Link's "autokey XOR" (PROTOCOL §1.1): c[i] = p[i] ^ k, k = c[i], starting with k = 171.
// Requests are decrypted in place on bytes, so that a frame costs no extra allocation; answers are
// encrypted as they are written (json-out.ts), the key running across the pieces.

export const INITIAL_KEY = 0xab;

/** Decrypts `bytes` in place and returns it. */
export function decrypt(bytes: Uint8Array): Uint8Array {
  let key = INITIAL_KEY;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    bytes[i] = c ^ key;
    key = c;
  }
  return bytes;
}
