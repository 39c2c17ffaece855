// The crypto port on Moddable (ESP8266, ESP32, the simulator): the SDK's `crypt` module
// (modules/crypt/digest: Digest, BlockCipher "AES", Mode "CBC"), natives in C. Only built when the
// plug speaks KLAP (firmware.ts): a legacy plug makes none of this.
//
// What the natives accept (modCrypt.c, SDK 8.2.3), which shapes the code below:
// - Digest#write reads any buffer (ArrayBuffer or view); close() returns a new ArrayBuffer; reset()
//   starts over on the same object, so one Digest serves every SHA-256.
// - BlockCipher(name, key) and Mode(name, cipher, iv, pad) read the key and IV as whole ArrayBuffers
//   (a view is refused): they are copied into two 16-byte ones kept here.
// - Mode#decrypt reads and writes any buffer: it decrypts a view in place. Mode#encrypt reads any
//   buffer but writes into a whole ArrayBuffer from its start: a view that is its buffer's whole
//   length is encrypted in place; any other (the core seals into body.subarray(32)) goes through a
//   small scratch buffer, CBC carrying on from piece to piece.
// - Without padding (the 4th argument false) nothing is added or removed: the core pads and checks
//   the padding itself (the SDK's unpadding does not check the pad bytes).

import * as crypt from "crypt";
import type { CryptoPort } from "../ports/ports.js";

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

export class ModdableCrypto implements CryptoPort {
  /** Made on first use and kept: every KLAP request and answer takes a SHA-256. */
  private sha: Digest | null = null;
  /** The key and IV of the call, as whole ArrayBuffers (BlockCipher and Mode take no view). */
  private readonly key = new Uint8Array(BLOCK);
  private readonly iv = new Uint8Array(BLOCK);
  /** Encryption's output for a view that is not its buffer's whole length (made on first need). */
  private scratch: Uint8Array | null = null;

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

  /**
   * AES-128-CBC without padding, in place. The cipher and mode are made for the call and let go
   * (some 300 bytes of key schedule): nothing of a session's key stays here between calls.
   */
  aes128Cbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): void {
    this.key.set(key);
    this.iv.set(iv);
    const mode = new sdk.Mode("CBC", new sdk.BlockCipher("AES", this.key.buffer as ArrayBuffer), this.iv.buffer as ArrayBuffer, false);
    if (!encrypt) {
      mode.decrypt(data, data);
    } else if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) {
      mode.encrypt(data, data.buffer as ArrayBuffer);
    } else {
      const scratch = (this.scratch ??= new Uint8Array(SCRATCH_BYTES));
      const length = data.length;
      for (let at = 0; at < length; at += SCRATCH_BYTES) {
        const n = length - at < SCRATCH_BYTES ? length - at : SCRATCH_BYTES;
        mode.encrypt(data.subarray(at, at + n), scratch.buffer as ArrayBuffer);
        for (let i = 0; i < n; i++) data[at + i] = scratch[i];
      }
    }
    this.key.fill(0);
  }
}
