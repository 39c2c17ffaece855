// Signed firmware images, and the receiver that checks one while it streams into the other slot.
//
// The format (version 1), all of it produced by `npm run sign` (scripts/sign.mjs):
//
//   offset  bytes  what
//   0       4      magic "KPFW" (4b 50 46 57)
//   4       1      format version: 1
//   5       3      zero (reserved: refused when not zero)
//   8       4      the image's length in bytes, unsigned, big-endian (1 .. the slot's size)
//   12      32     the firmware's version: 1 to 32 printable ASCII characters (0x20-0x7e), NUL-padded
//   44      n      the image (on an ESP32 the app binary the build made; on the host a small JSON, src/host/update.ts)
//   44+n    64     ECDSA P-256 signature, r then s (32 bytes each, big-endian), over SHA-256 of bytes 0 .. 44+n
//
// The signature covers the header: the version and the length are the owner's too. The receiver
// reads the header first (a wrong magic, format, version text or a length over the slot's size is
// refused before a byte reaches the slot), then streams the image into the slot while the crypto
// port's verifier hashes it, and only once the signature checks out under the owner's public key
// is the slot committed (UpdatePort.complete). Anything else aborts the slot: the running firmware
// stays what boots. Whatever the chunks (one byte, the whole, any split), the result is the same, and
// nothing grows with the image: the header and the signature are read into fixed buffers.

import type { CryptoPort, P256Verifier, UpdatePort } from "../../ports/ports.js";

export const IMAGE_MAGIC = Object.freeze([0x4b, 0x50, 0x46, 0x57]);
export const IMAGE_FORMAT = 1;
export const IMAGE_HEADER_BYTES = 44;
export const IMAGE_VERSION_BYTES = 32;
export const IMAGE_SIGNATURE_BYTES = 64;
/** The owner's public key: uncompressed P-256 point (0x04, x, y). */
export const UPDATE_KEY_BYTES = 65;

const VERSION_AT = 12;

/**
 * What a receiver says: `receiving` while it takes more, `accepted` once the slot is committed
 * (the next restart boots the new image on trial), or why it refused (the slot aborted).
 */
export type UpdateStatus =
  | "receiving"
  | "accepted"
  /** Not a signed image: the magic is wrong. */
  | "magic"
  /** A format version this firmware does not know. */
  | "format"
  /** The header is malformed: reserved bytes, a zero length, a version that is not printable text. */
  | "header"
  /** The declared length is more than the slot holds. */
  | "size"
  /** The stream ended before the image and its signature were all there. */
  | "truncated"
  /** Bytes after the signature. */
  | "trailing"
  /** The signature does not verify under the owner's key (a tampered byte, another key, no signature). */
  | "signature"
  /** The slot could not be opened, written or committed; or this platform cannot verify signatures. */
  | "slot"
  /** The receiver was cancelled (the connection broke). */
  | "cancelled";

/** A line for the log and the owner: what each refusal means. */
export const UPDATE_REFUSALS: Readonly<Record<Exclude<UpdateStatus, "receiving" | "accepted">, string>> = Object.freeze({
  magic: "not a signed firmware image",
  format: "an image format this firmware does not know",
  header: "a malformed image header",
  size: "an image larger than the update slot",
  truncated: "an incomplete image",
  trailing: "bytes after the image's signature",
  signature: "a signature that does not verify with the owner's key",
  slot: "the update slot could not take the image",
  cancelled: "the update was cancelled",
});

/** The header's fields once read (a refused header leaves `length` 0 and `version` ""). */
function readVersion(header: Uint8Array): string {
  let end = VERSION_AT;
  const stop = VERSION_AT + IMAGE_VERSION_BYTES;
  while (end < stop && header[end] !== 0) {
    const c = header[end];
    if (c < 0x20 || c > 0x7e) return "";
    end++;
  }
  for (let i = end; i < stop; i++) if (header[i] !== 0) return "";
  let text = "";
  for (let i = VERSION_AT; i < end; i++) text += String.fromCharCode(header[i]);
  return text;
}

/**
 * One signed image arriving in chunks (an HTTP body). `write` each chunk as it comes (only valid
 * during the call), then `end`; `cancel` if the stream breaks. After a final status every call
 * returns it again and does nothing.
 */
export class UpdateReceiver {
  status: UpdateStatus = "receiving";
  /** The image's declared length, once the header is read. */
  length = 0;
  /** The firmware version the header names, once it is read. */
  version = "";
  private readonly header = new Uint8Array(IMAGE_HEADER_BYTES);
  private readonly signature = new Uint8Array(IMAGE_SIGNATURE_BYTES);
  /** Bytes taken so far: header, then image, then signature. */
  private taken = 0;
  private check: P256Verifier | null = null;
  private begun = false;

  constructor(
    private readonly port: UpdatePort,
    private readonly crypto: CryptoPort,
    private readonly publicKey: Uint8Array,
  ) {}

  write(chunk: Uint8Array): UpdateStatus {
    let at = 0;
    const n = chunk.length;
    while (this.status === "receiving" && at < n) {
      const taken = this.taken;
      if (taken < IMAGE_HEADER_BYTES) {
        const k = Math.min(IMAGE_HEADER_BYTES - taken, n - at);
        this.header.set(chunk.subarray(at, at + k), taken);
        at += k;
        this.taken = taken + k;
        if (this.taken === IMAGE_HEADER_BYTES) this.opened();
        continue;
      }
      const imageEnd = IMAGE_HEADER_BYTES + this.length;
      if (taken < imageEnd) {
        const k = Math.min(imageEnd - taken, n - at);
        const part = chunk.subarray(at, at + k);
        this.check!.write(part);
        if (!this.port.write(part)) return this.refuse("slot");
        at += k;
        this.taken = taken + k;
        continue;
      }
      const signed = imageEnd + IMAGE_SIGNATURE_BYTES;
      if (taken >= signed) return this.refuse("trailing");
      const k = Math.min(signed - taken, n - at);
      this.signature.set(chunk.subarray(at, at + k), taken - imageEnd);
      at += k;
      this.taken = taken + k;
    }
    return this.status;
  }

  /** The stream is over: the image is committed only when it is all there and its signature verifies. */
  end(): UpdateStatus {
    if (this.status !== "receiving") return this.status;
    if (this.taken < IMAGE_HEADER_BYTES + this.length + IMAGE_SIGNATURE_BYTES || this.check === null) return this.refuse("truncated");
    let good = false;
    try {
      good = this.check.verify(this.signature);
    } catch {
      good = false;
    }
    this.check = null;
    if (!good) return this.refuse("signature");
    if (!this.port.complete()) return this.refuse("slot");
    this.begun = false;
    this.status = "accepted";
    return "accepted";
  }

  /** The stream broke: nothing of it is ever booted. */
  cancel(): UpdateStatus {
    return this.status === "receiving" ? this.refuse("cancelled") : this.status;
  }

  /** The header is all there: check it, open the slot, start the signature check over it. */
  private opened(): void {
    const h = this.header;
    for (let i = 0; i < 4; i++) if (h[i] !== IMAGE_MAGIC[i]) return void this.refuse("magic");
    if (h[4] !== IMAGE_FORMAT) return void this.refuse("format");
    if (h[5] !== 0 || h[6] !== 0 || h[7] !== 0) return void this.refuse("header");
    const length = ((h[8] << 24) >>> 0) + (h[9] << 16) + (h[10] << 8) + h[11];
    const version = readVersion(h);
    if (length === 0 || version === "") return void this.refuse("header");
    if (length > this.port.slotBytes) return void this.refuse("size");
    if (this.publicKey.length !== UPDATE_KEY_BYTES) return void this.refuse("signature");
    try {
      this.check = this.crypto.p256Verifier(this.publicKey);
    } catch {
      return void this.refuse("slot"); // a platform without ECDSA: no update can be checked
    }
    this.length = length;
    this.version = version;
    this.check.write(h);
    if (!this.port.begin(length)) return void this.refuse("slot");
    this.begun = true;
  }

  private refuse(why: UpdateStatus): UpdateStatus {
    this.status = why;
    this.check = null;
    if (this.begun) {
      this.begun = false;
      this.port.abort();
    }
    return why;
  }
}
