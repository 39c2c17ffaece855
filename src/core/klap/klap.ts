// KLAP, the authenticated and encrypted local transport of newer Kasa plugs, on the device's side:
// the auth hash, the handshake hashes and the session (key, IV, sequence numbers, signature,
// AES-128-CBC with PKCS#7). Byte for byte python-kasa's kasa/transports/klaptransport.py (the
// known-answer tests in host-tests/klap.test.ts hold it to values its own code computed). Pure
// functions on bytes over the crypto port: no HTTP here, and nothing is thrown for bad input.

import type { CryptoPort } from "../../ports/ports.js";

/** The client's and the plug's seeds, each this many bytes. */
export const KLAP_SEED_BYTES = 16;
/** The signature (SHA-256) in front of every request and answer body. */
export const KLAP_SIGNATURE_BYTES = 32;
/** The plug's answer to handshake1: its seed and a 32-byte hash. */
export const KLAP_HANDSHAKE1_BYTES = KLAP_SEED_BYTES + 32;
/** A handshake2 body: one SHA-256. */
export const KLAP_HANDSHAKE2_BYTES = 32;
const BLOCK = 16;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/**
 * Which hashes: 1 is what python-kasa uses for IOT plugs (auth hash md5(md5(user) + md5(password)),
 * handshake hashes over one seed); 2 is KlapTransportV2 (sha256(sha1(user) + sha1(password)),
 * hashes over both seeds).
 */
export type KlapVersion = 1 | 2;

/** Why a request body was refused (the HTTP side answers 403 for each). */
export type KlapRefusal = "seq" | "size" | "signature" | "padding";

/** The auth hash of a username and password (UTF-8 bytes): password-equivalent, kept instead of the password. */
export function klapAuthHash(crypto: CryptoPort, version: KlapVersion, username: Uint8Array, password: Uint8Array): Uint8Array {
  if (version === 1) return crypto.md5(crypto.md5(username), crypto.md5(password));
  return crypto.sha256(crypto.sha1(username), crypto.sha1(password));
}

/**
 * The plug's answer to handshake1: `remoteSeed` followed by the hash that proves it knows the auth
 * hash. Undefined unless both seeds are 16 bytes (a handshake1 body of any other length is refused).
 */
export function klapHandshake1(crypto: CryptoPort, version: KlapVersion, localSeed: Uint8Array, remoteSeed: Uint8Array, authHash: Uint8Array): Uint8Array | undefined {
  if (localSeed.length !== KLAP_SEED_BYTES || remoteSeed.length !== KLAP_SEED_BYTES) return undefined;
  const answer = new Uint8Array(KLAP_HANDSHAKE1_BYTES);
  answer.set(remoteSeed, 0);
  answer.set(version === 1 ? crypto.sha256(localSeed, authHash) : crypto.sha256(localSeed, remoteSeed, authHash), KLAP_SEED_BYTES);
  return answer;
}

/** The handshake2 body a client that knows the auth hash sends. */
export function klapHandshake2(crypto: CryptoPort, version: KlapVersion, localSeed: Uint8Array, remoteSeed: Uint8Array, authHash: Uint8Array): Uint8Array {
  return version === 1 ? crypto.sha256(remoteSeed, authHash) : crypto.sha256(remoteSeed, localSeed, authHash);
}

/** Whether a handshake2 body proves the client knows the auth hash (compared in constant time). */
export function klapHandshake2Valid(crypto: CryptoPort, version: KlapVersion, localSeed: Uint8Array, remoteSeed: Uint8Array, authHash: Uint8Array, body: Uint8Array): boolean {
  return body.length === KLAP_HANDSHAKE2_BYTES && sameBytes(klapHandshake2(crypto, version, localSeed, remoteSeed, authHash), body, 0);
}

/** Whether `a` equals `b` from `offset` on, over a's length, in time independent of where they differ. */
function sameBytes(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  if (b.length - offset < a.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[offset + i];
  return diff === 0;
}

const LSK = /* "lsk" */ Object.freeze([0x6c, 0x73, 0x6b]);
const IV = /* "iv" */ Object.freeze([0x69, 0x76]);
const LDK = /* "ldk" */ Object.freeze([0x6c, 0x64, 0x6b]);
/** Where a session's key, IV + seq and signature + seq are in its one array, and its length. */
const KEY_AT = 0;
const IV_AT = 16;
const SIG_AT = 32;
const SESSION_BYTES = 64;

/**
 * One session after handshake2: the plug opens request bodies and seals its answers. A request's
 * sequence number must be above every one accepted before (python-kasa counts up from the one the
 * IV derivation gives; a replayed or older body is refused), and within int32 as python-kasa packs it.
 */
export class KlapSession {
  /** The sequence number the derivation gives: the client's first request carries the next one. */
  readonly firstSeq: number;
  /** The highest sequence number accepted so far (firstSeq before any). */
  lastSeq: number;
  /** The plaintext of a request or an answer is at most this many bytes. */
  readonly maxPlaintextBytes: number;
  /**
   * All the session keeps, in one array (one object and one chunk instead of five of each): the
   * AES-128 key at KEY_AT; at IV_AT the IV's 12 bytes then the sequence number, big-endian, rebuilt
   * for each body; at SIG_AT the signature's 28 bytes then the sequence number. Views are made
   * when asked, and let go.
   */
  private readonly bytes = new Uint8Array(SESSION_BYTES);

  constructor(private readonly crypto: CryptoPort, localSeed: Uint8Array, remoteSeed: Uint8Array, authHash: Uint8Array, maxPlaintextBytes: number) {
    const bytes = this.bytes;
    bytes.set(crypto.sha256(bytesOf(LSK), localSeed, remoteSeed, authHash).subarray(0, 16), KEY_AT);
    const full = crypto.sha256(bytesOf(IV), localSeed, remoteSeed, authHash);
    bytes.set(full.subarray(0, 12), IV_AT);
    this.firstSeq = this.lastSeq = ((full[28] << 24) | (full[29] << 16) | (full[30] << 8) | full[31]);
    bytes.set(crypto.sha256(bytesOf(LDK), localSeed, remoteSeed, authHash).subarray(0, 28), SIG_AT);
    this.maxPlaintextBytes = maxPlaintextBytes;
  }

  /** The AES-128 key (a view). */
  get key(): Uint8Array {
    return this.bytes.subarray(KEY_AT, KEY_AT + 16);
  }

  /** The first 12 bytes of every IV; the last 4 are the sequence number, big-endian (a view). */
  get iv(): Uint8Array {
    return this.bytes.subarray(IV_AT, IV_AT + 12);
  }

  /** The first 28 bytes of every signed prefix (a view). */
  get sig(): Uint8Array {
    return this.bytes.subarray(SIG_AT, SIG_AT + 28);
  }

  /** The largest body this session opens or seals: signature, then the padded plaintext. */
  maxBodyBytes(): number {
    return KLAP_SIGNATURE_BYTES + (Math.floor(this.maxPlaintextBytes / BLOCK) + 1) * BLOCK;
  }

  /**
   * A request body with sequence number `seq` (from `?seq=`): its plaintext, or why it was refused.
   * Only a body that passes every check moves the sequence number on. A body whose signature holds
   * is decrypted in place (no copy of it is made): the plaintext returned is a view into `body`.
   */
  open(body: Uint8Array, seq: number): Uint8Array | KlapRefusal {
    if (!validSeq(seq) || seq <= this.lastSeq) return "seq";
    const length = body.length - KLAP_SIGNATURE_BYTES;
    if (length < BLOCK || length % BLOCK !== 0 || body.length > this.maxBodyBytes()) return "size";
    const ciphertext = body.subarray(KLAP_SIGNATURE_BYTES);
    this.setSeq(seq);
    const bytes = this.bytes;
    if (!sameBytes(this.crypto.sha256(bytes.subarray(SIG_AT, SIG_AT + 32), ciphertext), body, 0)) return "signature";
    const plain = ciphertext;
    this.crypto.aes128Cbc(false, bytes.subarray(KEY_AT, KEY_AT + 16), bytes.subarray(IV_AT, IV_AT + 16), plain);
    const pad = plain[length - 1];
    if (pad < 1 || pad > BLOCK) return "padding";
    for (let i = length - pad; i < length - 1; i++) if (plain[i] !== pad) return "padding";
    this.lastSeq = seq;
    return plain.subarray(0, length - pad);
  }

  /**
   * The answer body for `plaintext` under sequence number `seq` (the request's): as python-kasa's
   * encrypt makes it, so its client reads it. Undefined when the plaintext is too long or seq is out of int32.
   */
  seal(plaintext: Uint8Array, seq: number): Uint8Array | undefined {
    if (!validSeq(seq) || plaintext.length > this.maxPlaintextBytes) return undefined;
    const body = new Uint8Array(klapBodyBytes(plaintext.length));
    body.set(plaintext, KLAP_SIGNATURE_BYTES);
    this.sealInPlace(body, plaintext.length, seq);
    return body;
  }

  /**
   * Seals in place the answer whose plaintext is already in `body` after the signature's room (body
   * is klapBodyBytes(length) long): pads it, encrypts it and writes the signature in front, so that
   * no copy of the answer is made. False, changing nothing, for a seq out of int32 or a body of another length.
   */
  sealInPlace(body: Uint8Array, length: number, seq: number): boolean {
    if (!validSeq(seq) || body.length !== klapBodyBytes(length)) return false;
    const ciphertext = body.subarray(KLAP_SIGNATURE_BYTES);
    ciphertext.fill(BLOCK - (length % BLOCK), length);
    this.setSeq(seq);
    const bytes = this.bytes;
    this.crypto.aes128Cbc(true, bytes.subarray(KEY_AT, KEY_AT + 16), bytes.subarray(IV_AT, IV_AT + 16), ciphertext);
    body.set(this.crypto.sha256(bytes.subarray(SIG_AT, SIG_AT + 32), ciphertext), 0);
    return true;
  }

  private setSeq(seq: number): void {
    const bytes = this.bytes;
    for (let i = 0; i < 4; i++) {
      const byte = (seq >>> (24 - 8 * i)) & 0xff;
      bytes[IV_AT + 12 + i] = byte;
      bytes[SIG_AT + 28 + i] = byte;
    }
  }
}

/** The length of a body (signature, then the PKCS#7-padded ciphertext) for a plaintext of `length` bytes. */
export function klapBodyBytes(length: number): number {
  return KLAP_SIGNATURE_BYTES + length + (BLOCK - (length % BLOCK));
}

function validSeq(seq: number): boolean {
  return Number.isInteger(seq) && seq >= INT32_MIN && seq <= INT32_MAX;
}

function bytesOf(list: readonly number[]): Uint8Array {
  return Uint8Array.from(list);
}
