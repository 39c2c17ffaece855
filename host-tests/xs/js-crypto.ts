// TEST ONLY: a CryptoPort in plain ECMAScript (MD5, SHA-1, SHA-256, AES-128-CBC), for running the
// KLAP core inside xsnap's XS worker, which has no crypto module. Small and slow, never constant
// time, never for the firmware: the plug uses node:crypto (src/host/crypto.ts) or the Moddable
// SDK's crypt natives (src/moddable/crypto.ts). host-tests/xs-engine.test.ts checks it against
// node:crypto before trusting it.

import type { CryptoPort } from "../../src/ports/ports.js";

function concat(parts: (Uint8Array | undefined)[]): Uint8Array {
  let n = 0;
  for (const p of parts) if (p) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) if (p) (out.set(p, at), (at += p.length));
  return out;
}

/** The message padded to 64-byte blocks with its bit length (big- or little-endian) at the end. */
function pad64(message: Uint8Array, bigEndian: boolean): Uint8Array {
  const n = (((message.length + 8) >> 6) + 1) << 6;
  const out = new Uint8Array(n);
  out.set(message);
  out[message.length] = 0x80;
  const bits = message.length * 8;
  const low = bits >>> 0;
  const high = Math.floor(bits / 0x100000000) >>> 0;
  for (let i = 0; i < 4; i++) {
    if (bigEndian) {
      out[n - 1 - i] = (low >>> (8 * i)) & 0xff;
      out[n - 5 - i] = (high >>> (8 * i)) & 0xff;
    } else {
      out[n - 8 + i] = (low >>> (8 * i)) & 0xff;
      out[n - 4 + i] = (high >>> (8 * i)) & 0xff;
    }
  }
  return out;
}

const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));
const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0);

export function md5(message: Uint8Array): Uint8Array {
  const m = pad64(message, false);
  const h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
  const w = new Array<number>(16);
  for (let off = 0; off < m.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = m[off + 4 * i] | (m[off + 4 * i + 1] << 8) | (m[off + 4 * i + 2] << 16) | (m[off + 4 * i + 3] << 24);
    let [a, b, c, d] = h;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) (f = (b & c) | (~b & d)), (g = i);
      else if (i < 32) (f = (d & b) | (~d & c)), (g = (5 * i + 1) % 16);
      else if (i < 48) (f = b ^ c ^ d), (g = (3 * i + 5) % 16);
      else (f = c ^ (b | ~d)), (g = (7 * i) % 16);
      const t = d;
      d = c;
      c = b;
      b = (b + rotl((a + f + MD5_K[i] + w[g]) | 0, MD5_S[(i >> 4) * 4 + (i % 4)])) | 0;
      a = t;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = (h[i >> 2] >>> (8 * (i & 3))) & 0xff;
  return out;
}

function bigEndianWords(h: number[]): Uint8Array {
  const out = new Uint8Array(h.length * 4);
  for (let i = 0; i < out.length; i++) out[i] = (h[i >> 2] >>> (24 - 8 * (i & 3))) & 0xff;
  return out;
}

function readWords(m: Uint8Array, off: number, w: number[]): void {
  for (let i = 0; i < 16; i++) w[i] = (m[off + 4 * i] << 24) | (m[off + 4 * i + 1] << 16) | (m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3];
}

export function sha1(message: Uint8Array): Uint8Array {
  const m = pad64(message, true);
  const h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];
  const w = new Array<number>(80);
  for (let off = 0; off < m.length; off += 64) {
    readWords(m, off, w);
    for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i++) {
      const f = i < 20 ? (b & c) | (~b & d) : i < 40 ? b ^ c ^ d : i < 60 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d;
      const k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? 0x8f1bbcdc | 0 : 0xca62c1d6 | 0;
      const t = (rotl(a, 5) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0;
  }
  return bigEndianWords(h);
}

const SHA256_K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
].map((k) => k | 0);

export function sha256(message: Uint8Array): Uint8Array {
  const m = pad64(message, true);
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19].map((x) => x | 0);
  const w = new Array<number>(64);
  for (let off = 0; off < m.length; off += 64) {
    readWords(m, off, w);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    const v = [a, b, c, d, e, f, g, hh];
    for (let i = 0; i < 8; i++) h[i] = (h[i] + v[i]) | 0;
  }
  return bigEndianWords(h);
}

// ---- AES-128 (FIPS 197), byte-oriented ----

const SBOX = new Uint8Array(256);
const INV_SBOX = new Uint8Array(256);
{
  // the S-box from the multiplicative inverse in GF(2^8) and the affine map
  let p = 1;
  let q = 1;
  do {
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const x = q ^ ((q << 1) | (q >> 7)) ^ ((q << 2) | (q >> 6)) ^ ((q << 3) | (q >> 5)) ^ ((q << 4) | (q >> 4));
    SBOX[p] = (x ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) INV_SBOX[SBOX[i]] = i;
}

const xtime = (b: number) => ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;
function mul(a: number, b: number): number {
  let r = 0;
  for (; b; b >>= 1, a = xtime(a)) if (b & 1) r ^= a;
  return r;
}

function expandKey(key: Uint8Array): Uint8Array {
  const w = new Uint8Array(176);
  w.set(key);
  let rcon = 1;
  for (let i = 16; i < 176; i += 4) {
    let t = [w[i - 4], w[i - 3], w[i - 2], w[i - 1]];
    if (i % 16 === 0) {
      t = [SBOX[t[1]] ^ rcon, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]];
      rcon = xtime(rcon);
    }
    for (let j = 0; j < 4; j++) w[i + j] = w[i - 16 + j] ^ t[j];
  }
  return w;
}

function encryptBlock(s: Uint8Array, w: Uint8Array): void {
  for (let i = 0; i < 16; i++) s[i] ^= w[i];
  for (let round = 1; round <= 10; round++) {
    const t = new Uint8Array(16);
    // SubBytes and ShiftRows (column-major state: byte r + 4c)
    for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) t[r + 4 * c] = SBOX[s[r + 4 * ((c + r) % 4)]];
    if (round < 10) {
      for (let c = 0; c < 4; c++) {
        const [a0, a1, a2, a3] = [t[4 * c], t[4 * c + 1], t[4 * c + 2], t[4 * c + 3]];
        t[4 * c] = xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3;
        t[4 * c + 1] = a0 ^ xtime(a1) ^ xtime(a2) ^ a2 ^ a3;
        t[4 * c + 2] = a0 ^ a1 ^ xtime(a2) ^ xtime(a3) ^ a3;
        t[4 * c + 3] = xtime(a0) ^ a0 ^ a1 ^ a2 ^ xtime(a3);
      }
    }
    for (let i = 0; i < 16; i++) s[i] = t[i] ^ w[16 * round + i];
  }
}

function decryptBlock(s: Uint8Array, w: Uint8Array): void {
  for (let i = 0; i < 16; i++) s[i] ^= w[160 + i];
  for (let round = 9; round >= 0; round--) {
    const t = new Uint8Array(16);
    // InvShiftRows and InvSubBytes, then AddRoundKey
    for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) t[r + 4 * ((c + r) % 4)] = INV_SBOX[s[r + 4 * c]];
    for (let i = 0; i < 16; i++) t[i] ^= w[16 * round + i];
    if (round > 0) {
      for (let c = 0; c < 4; c++) {
        const [a0, a1, a2, a3] = [t[4 * c], t[4 * c + 1], t[4 * c + 2], t[4 * c + 3]];
        t[4 * c] = mul(a0, 14) ^ mul(a1, 11) ^ mul(a2, 13) ^ mul(a3, 9);
        t[4 * c + 1] = mul(a0, 9) ^ mul(a1, 14) ^ mul(a2, 11) ^ mul(a3, 13);
        t[4 * c + 2] = mul(a0, 13) ^ mul(a1, 9) ^ mul(a2, 14) ^ mul(a3, 11);
        t[4 * c + 3] = mul(a0, 11) ^ mul(a1, 13) ^ mul(a2, 9) ^ mul(a3, 14);
      }
    }
    s.set(t);
  }
}

/** AES-128-CBC without padding, in place (`data` is whole 16-byte blocks). */
export function aes128Cbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): void {
  const w = expandKey(key);
  const prev = iv.slice(0, 16);
  const block = new Uint8Array(16);
  for (let at = 0; at < data.length; at += 16) {
    block.set(data.subarray(at, at + 16));
    if (encrypt) {
      for (let i = 0; i < 16; i++) block[i] ^= prev[i];
      encryptBlock(block, w);
      prev.set(block);
    } else {
      const cipher = block.slice();
      decryptBlock(block, w);
      for (let i = 0; i < 16; i++) block[i] ^= prev[i];
      prev.set(cipher);
    }
    data.set(block, at);
  }
}

/** The test-only CryptoPort. */
export const jsCrypto: CryptoPort = {
  md5: (a, b, c, d) => md5(concat([a, b, c, d])),
  sha1: (a, b, c, d) => sha1(concat([a, b, c, d])),
  sha256: (a, b, c, d) => sha256(concat([a, b, c, d])),
  aes128Cbc,
  // (the parts are kept and hashed at close: test-only, small answers)
  sha256Stream() {
    const parts: Uint8Array[] = [];
    return {
      write: (bytes: Uint8Array) => void parts.push(bytes.slice()),
      close: () => sha256(concat(parts)),
    };
  },
  // (the XS check runs the KLAP core, not signed updates)
  p256Verifier() {
    throw new Error("no ECDSA in the test-only crypto");
  },
};
