// Signed images for the update tests: a writer of the format of its own (src/core/update/image.ts
// reads it; scripts/sign.mjs writes it too, and update-sign.test.ts holds the three together), and
// a slot that records what the receiver did with it.

import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { UpdatePort } from "../../src/ports/ports.js";

export interface TestKey {
  privateKey: KeyObject;
  /** The 65 uncompressed bytes the plug holds. */
  raw: Uint8Array;
}

export function rawKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: "jwk" });
  return new Uint8Array([4, ...Buffer.from(jwk.x!, "base64url"), ...Buffer.from(jwk.y!, "base64url")]);
}

export function testKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, raw: rawKey(publicKey) };
}

export function keyOf(privateKey: KeyObject): Uint8Array {
  return rawKey(createPublicKey(privateKey));
}

/** The 44-byte header: magic, format, reserved, length (big-endian), version (NUL-padded). */
export function imageHeader(length: number, version: string, format = 1): Uint8Array {
  const h = Buffer.alloc(44);
  h.write("KPFW", 0, "latin1");
  h[4] = format;
  h.writeUInt32BE(length, 8);
  h.write(version, 12, "latin1");
  return new Uint8Array(h);
}

/** Header (the image's own length unless `declared`), image and signature over both. */
export function signedImage(image: Uint8Array, key: KeyObject, version = "1.2.3", declared = image.length): Uint8Array {
  const signed = Buffer.concat([imageHeader(declared, version), image]);
  const signature = sign("sha256", signed, { key, dsaEncoding: "ieee-p1363" });
  return new Uint8Array(Buffer.concat([signed, signature]));
}

/** A slot that keeps what it is given and what was asked of it. */
export class RecordingSlot implements UpdatePort {
  begun: number[] = [];
  parts: Uint8Array[] = [];
  completed = 0;
  aborted = 0;
  failWrite = false;
  failBegin = false;
  failComplete = false;
  trial = false;
  confirmations = 0;
  /** confirm() takes (false: the image stays on trial, as a bootloader that refused it). */
  confirmTakes = true;
  constructor(readonly slotBytes = 4096) {}
  begin(length: number): boolean {
    this.begun.push(length);
    this.parts = [];
    return !this.failBegin;
  }
  write(bytes: Uint8Array): boolean {
    if (this.failWrite) return false;
    this.parts.push(bytes.slice());
    return true;
  }
  complete(): boolean {
    if (this.failComplete) return false;
    this.completed++;
    return true;
  }
  abort(): void {
    this.aborted++;
  }
  pendingConfirmation(): boolean {
    return this.trial;
  }
  confirm(): void {
    this.confirmations++;
    if (this.confirmTakes) this.trial = false;
  }
  /** Everything written into the slot. */
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}
