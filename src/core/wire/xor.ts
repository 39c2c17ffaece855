// TP-Link's "autokey XOR" (PROTOCOL §1.1): c[i] = p[i] ^ k, k = c[i], starting with k = 171.
// Both directions work in place on bytes so that a frame costs no extra allocation.

export const INITIAL_KEY = 0xab;

/** Encrypts `bytes` in place and returns it. */
export function encrypt(bytes: Uint8Array): Uint8Array {
  let key = INITIAL_KEY;
  for (let i = 0; i < bytes.length; i++) {
    key = bytes[i] ^ key;
    bytes[i] = key;
  }
  return bytes;
}

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
