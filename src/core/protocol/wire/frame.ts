// TCP framing on port 9999 (PROTOCOL §1.2): a 4-byte big-endian length, then that many bytes of
// ciphertext. The decoder is streaming: frames may arrive split across segments or several to a
// segment, and any number of them may follow each other on one connection. Answers are written as
// frames by wire/json-out.ts, straight from the answer tree.

import { decrypt } from "./xor.js";
import { utf8Decode } from "./utf8.js";

export const HEADER_BYTES = 4;

/**
 * The largest request body accepted (bytes). python-kasa's biggest request is under 1 KiB and it
 * sizes its own buffers for 16 KiB answers; a declared length above this closes the connection.
 */
export const MAX_FRAME_BYTES = 16 * 1024;

export class FrameDecoder {
  private readonly header = new Uint8Array(HEADER_BYTES);
  private headerFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  private broken = false;

  constructor(private readonly maxBytes: number = MAX_FRAME_BYTES) {}

  /** True while a frame has started arriving but is not complete. */
  get pending(): boolean {
    return this.headerFill > 0 || this.body !== null;
  }

  /**
   * Consumes `chunk`; hands each complete frame's plaintext bytes (decrypted in place, owned by the
   * callee) to `onFrame`, in order; an `onFrame` that returns false stops the reading there (the rest
   * of the chunk is not decoded: the caller is closing the connection). Returns false once the stream
   * declared a frame larger than the bound: the caller must then close the connection (nothing after
   * that point is read).
   */
  feed(chunk: Uint8Array, onFrame: (plaintext: Uint8Array) => unknown): boolean {
    if (this.broken) return false;
    let i = 0;
    while (i < chunk.length) {
      if (this.body === null) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFill);
        this.headerFill += take;
        i += take;
        if (this.headerFill < HEADER_BYTES) break;
        const h = this.header;
        const length = ((h[0] << 24) >>> 0) + (h[1] << 16) + (h[2] << 8) + h[3];
        if (length > this.maxBytes) {
          this.broken = true;
          return false;
        }
        this.headerFill = 0;
        this.body = new Uint8Array(length);
        this.bodyFill = 0;
      }
      const body = this.body;
      const take = Math.min(body.length - this.bodyFill, chunk.length - i);
      body.set(chunk.subarray(i, i + take), this.bodyFill);
      this.bodyFill += take;
      i += take;
      if (this.bodyFill === body.length) {
        this.body = null;
        if (onFrame(decrypt(body)) === false) return true;
      }
    }
    return true;
  }
}

/** Decrypts a UDP datagram (a copy: the caller's buffer is left alone) and decodes its text. */
export function decodeDatagram(bytes: Uint8Array): string {
  return utf8Decode(decrypt(new Uint8Array(bytes)));
}
