// A stand-in for the SDK's `crypt` module (modules/crypt/digest) on node:crypto, for the tests of the
// Moddable crypto port without the SDK (CI has none): vi.mock("crypt", () => import("./support/sdk-crypt.js")).
// It keeps the natives' rules as modCrypt.c has them (SDK 8.2.3): BlockCipher's key and Mode's IV
// must be whole ArrayBuffers (copied at construction), Mode#encrypt writes into a whole ArrayBuffer
// from its start, Mode#decrypt into any buffer, CBC carries on from one call to the next, a Digest
// must be reset after close.

import { createCipheriv, createDecipheriv, createHash, type Hash } from "node:crypto";

type BufferLike = ArrayBuffer | ArrayBufferView;

function bytesOf(data: BufferLike): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function wholeArrayBuffer(value: unknown, what: string): ArrayBuffer {
  // xsmcToArrayBuffer: fxCheckArrayBufferInstance throws for anything but an ArrayBuffer
  if (!(value instanceof ArrayBuffer)) throw new TypeError(`${what}: no array buffer`);
  return value;
}

/** Digests made, by type. */
export const counts = { digests: new Map<string, number>() };

export class Digest {
  private hash: Hash | undefined;
  constructor(private readonly type: "MD5" | "SHA1" | "SHA256") {
    counts.digests.set(type, (counts.digests.get(type) ?? 0) + 1);
    this.reset();
  }
  reset() {
    this.hash = createHash(this.type === "MD5" ? "md5" : this.type === "SHA1" ? "sha1" : "sha256");
  }
  write(data: BufferLike) {
    if (this.hash === undefined) throw new Error("written after close without reset (the natives would hash on from a finished state)");
    this.hash.update(bytesOf(data));
  }
  close(): ArrayBuffer {
    const digest = new Uint8Array(this.hash!.digest());
    this.hash = undefined;
    return digest.buffer;
  }
}
export class BlockCipher {
  readonly key: Uint8Array;
  constructor(name: string, key: unknown) {
    if (name !== "AES") throw new Error("unsupported cipher");
    const buffer = wholeArrayBuffer(key, "key");
    if (buffer.byteLength !== 16) throw new Error(`AES-${buffer.byteLength * 8}, not AES-128`);
    this.key = new Uint8Array(buffer).slice();
  }
}
export class Mode {
  private readonly prev: Uint8Array;
  constructor(name: string, private readonly cipher: BlockCipher, iv: unknown, padding: boolean) {
    if (name !== "CBC" || padding !== false) throw new Error("only CBC without padding here");
    this.prev = new Uint8Array(wholeArrayBuffer(iv, "iv")).slice(0, 16);
  }
  private block(encrypt: boolean, input: Uint8Array): Uint8Array {
    const c = encrypt ? createCipheriv("aes-128-ecb", this.cipher.key, null) : createDecipheriv("aes-128-ecb", this.cipher.key, null);
    c.setAutoPadding(false);
    return new Uint8Array(c.update(input));
  }
  encrypt(data: BufferLike, result: unknown): ArrayBuffer {
    const input = bytesOf(data).slice();
    const out = wholeArrayBuffer(result, "encrypt's output");
    if (out.byteLength < input.length) throw new Error("output too small");
    const target = new Uint8Array(out);
    for (let at = 0; at + 16 <= input.length; at += 16) {
      const x = input.subarray(at, at + 16).map((b, i) => b ^ this.prev[i]);
      const c = this.block(true, x);
      this.prev.set(c);
      target.set(c, at);
    }
    return out;
  }
  decrypt(data: BufferLike, result: BufferLike): BufferLike {
    const input = bytesOf(data).slice();
    const target = bytesOf(result);
    for (let at = 0; at + 16 <= input.length; at += 16) {
      const c = input.subarray(at, at + 16);
      const p = this.block(false, c).map((b, i) => b ^ this.prev[i]);
      this.prev.set(c);
      target.set(p, at);
    }
    return result;
  }
}
