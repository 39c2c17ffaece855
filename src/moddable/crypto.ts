// The crypto port on Moddable (ESP8266, ESP32, the simulator): the SDK's `crypt` module
// (modules/crypt/digest: Digest, BlockCipher "AES", Mode "CBC"), natives in C. Only built when the
// plug speaks KLAP (firmware.ts): a legacy plug makes none of this.
//
// What the natives accept (modCrypt.c, SDK 8.2.3), which shapes the code below:
// - Digest#write reads any buffer (ArrayBuffer or view); close() returns a new ArrayBuffer; reset()
//   starts over on the same object, so one Digest serves every SHA-256.
// - BlockCipher(name, key) and Mode(name, cipher, iv, pad) read the key and IV as whole ArrayBuffers
//   (a view is refused), and copy them: one 16-byte buffer kept here takes the key, then the IV.
// - Mode#decrypt reads and writes any buffer: it decrypts a view in place. Mode#encrypt reads any
//   buffer but writes into a whole ArrayBuffer from its start: a view that is its buffer's whole
//   length is encrypted in place; any other (the core seals into body.subarray(32)) goes through a
//   64-byte scratch buffer, CBC carrying on from piece to piece.
// - Without padding (the 4th argument false) nothing is added or removed: the core pads and checks
//   the padding itself (the SDK's unpadding does not check the pad bytes).

import * as crypt from "crypt";
import type { CryptoPort, P256Verifier, Sha256Stream } from "../ports/ports.js";

/**
 * ECDSA P-256 over a SHA-256 stream (p256.ts, where the platform has updates): the firmware hands it
 * over, so that a build without updates (ESP8266) has none of its modules.
 */
export type P256Factory = (publicKey: Uint8Array, sha: Sha256Stream) => P256Verifier;

type BufferLike = ArrayBuffer | ArrayBufferView;

interface Digest {
  write(data: BufferLike): void;
  close(): ArrayBuffer;
  reset(): void;
}
interface BlockCipher {
  readonly blockSize: number;
}
interface Mode {
  encrypt(data: BufferLike, result: ArrayBuffer): ArrayBuffer;
  decrypt(data: BufferLike, result: BufferLike): BufferLike;
}
/** The part of `crypt` used here (see the header). */
interface CryptModule {
  Digest: new (type: "MD5" | "SHA1" | "SHA256") => Digest;
  BlockCipher: new (cipher: "AES", key: ArrayBuffer) => BlockCipher;
  Mode: new (mode: "CBC", cipher: BlockCipher, iv: ArrayBuffer, padding: boolean) => Mode;
}

const sdk = crypt as unknown as CryptModule;

const BLOCK = 16;
/** Encryption of a view that is not a whole buffer goes through this many bytes at a time. */
export const SCRATCH_BYTES = 64;

function digest(d: Digest, a: Uint8Array, b?: Uint8Array, c?: Uint8Array, e?: Uint8Array): Uint8Array {
  d.reset();
  d.write(a);
  if (b !== undefined) d.write(b);
  if (c !== undefined) d.write(c);
  if (e !== undefined) d.write(e);
  return new Uint8Array(d.close());
}

/**
 * One incremental SHA-256 (a KLAP answer's signature, written as the answer is encrypted): a Digest
 * of its own, made for the answer and let go after it (the port's kept one may be used meanwhile).
 */
class Sha256Digest implements Sha256Stream {
  private readonly digest = new sdk.Digest("SHA256");

  write(bytes: Uint8Array): void {
    this.digest.write(bytes);
  }

  close(): Uint8Array {
    return new Uint8Array(this.digest.close());
  }
}

export class ModdableCrypto implements CryptoPort {
  /** Made on first use and kept (measured: 152 B live on an ESP8266): every KLAP request and answer takes a SHA-256. */
  private sha: Digest | null = null;
  /**
   * The key, then the IV, of a call as a whole ArrayBuffer (BlockCipher and Mode take no view, and
   * each copies what it is given, so one buffer serves both in turn); made on first use.
   */
  private whole: Uint8Array | null = null;

  /** `p256`: the signature check where this platform has signed updates (ESP32); none elsewhere. */
  constructor(private readonly p256?: P256Factory) {}

  /** MD5 and SHA-1 only make auth hashes (credentials set, KLAP v2): a Digest for the call. */
  md5(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array {
    return digest(new sdk.Digest("MD5"), a, b, c, d);
  }

  sha1(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array {
    return digest(new sdk.Digest("SHA1"), a, b, c, d);
  }

  sha256(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array {
    return digest((this.sha ??= new sdk.Digest("SHA256")), a, b, c, d);
  }

  sha256Stream(): Sha256Stream {
    return new Sha256Digest();
  }

  /** A signed update's check, hashing through a Digest of its own; throws where the platform has no updates (the receiver refuses the image). */
  p256Verifier(publicKey: Uint8Array): P256Verifier {
    if (this.p256 === undefined) throw new Error("signed updates: none on this platform");
    return this.p256(publicKey, new Sha256Digest());
  }

  /**
   * AES-128-CBC without padding, in place. The cipher and mode (some 300 bytes of key schedule) and
   * the scratch buffer are made for the call and let go: nothing of a session's key stays here.
   */
  aes128Cbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): void {
    const whole = (this.whole ??= new Uint8Array(BLOCK));
    const buffer = whole.buffer as ArrayBuffer;
    whole.set(key);
    const cipher = new sdk.BlockCipher("AES", buffer);
    whole.set(iv);
    const mode = new sdk.Mode("CBC", cipher, buffer, false);
    whole.fill(0);
    if (!encrypt) {
      mode.decrypt(data, data);
    } else if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) {
      mode.encrypt(data, data.buffer as ArrayBuffer);
    } else {
      const scratch = new Uint8Array(SCRATCH_BYTES);
      const length = data.length;
      for (let at = 0; at < length; at += SCRATCH_BYTES) {
        const n = length - at < SCRATCH_BYTES ? length - at : SCRATCH_BYTES;
        mode.encrypt(data.subarray(at, at + n), scratch.buffer as ArrayBuffer);
        for (let i = 0; i < n; i++) data[at + i] = scratch[i];
      }
    }
  }
}
