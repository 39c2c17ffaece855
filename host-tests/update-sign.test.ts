// Signed updates, the image and its signature (issue 19): `npm run keygen` and `npm run sign` make
// what the plug's receiver (src/core/update/image.ts) accepts; the receiver commits the slot only
// for a whole image whose signature verifies under the owner's key, whatever the chunks it arrives
// in, and refuses (aborting the slot: nothing of it ever boots) an unsigned image, a changed byte
// anywhere, another key, a truncated image, a length over the slot's size, trailing bytes, garbage.

import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { nodeCrypto } from "../src/host/crypto.js";
import { readUpdateKey } from "../src/host/update.js";
import { UpdateReceiver, type UpdateStatus } from "../src/core/update/image.js";
import { imageHeader, keyOf, RecordingSlot, signedImage, testKey } from "./support/update.js";

const dir = mkdtempSync(join(tmpdir(), "plug-update-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = testKey();
/** The slot of the check at hand (a fresh one for each: `(slot = new RecordingSlot())`). */
let slot: RecordingSlot;
const IMAGE = new Uint8Array(Buffer.from('{"version":"2.0.0-host"}\n'));

/** Feeds `bytes` in the chunks `sizes` says (the rest in one), then ends; returns the final status. */
function receive(slot: RecordingSlot, bytes: Uint8Array, key = KEY.raw, chunks: number[] = []): UpdateStatus {
  const r = new UpdateReceiver(slot, nodeCrypto, key);
  let at = 0;
  for (const n of chunks) {
    r.write(bytes.subarray(at, at + n));
    at += n;
  }
  r.write(bytes.subarray(at));
  return r.end();
}

/** The slot was committed with exactly `image`, and nothing else happened to it. */
function expectAccepted(slot: RecordingSlot, status: UpdateStatus, image = IMAGE) {
  expect(status).toBe("accepted");
  expect(slot.completed).toBe(1);
  expect(slot.aborted).toBe(0);
  expect(slot.bytes()).toEqual(image);
}

/** Refused: never committed; a slot that was begun was aborted. */
function expectRefused(slot: RecordingSlot, status: UpdateStatus, why?: UpdateStatus) {
  expect(status).not.toBe("accepted");
  expect(status).not.toBe("receiving");
  if (why !== undefined) expect(status).toBe(why);
  expect(slot.completed).toBe(0);
  expect(slot.aborted).toBe(slot.begun.length);
}

function run(script: string, ...args: string[]) {
  return spawnSync(process.execPath, [join("scripts", script), ...args], { encoding: "utf8" });
}

describe("npm run keygen and npm run sign", () => {
  it("make a key pair and a signed image the plug's receiver accepts, with the version in the header", () => {
    const priv = join(dir, "keys", "update-key.pem");
    const pub = join(dir, "update-public.json");
    const made = run("keygen.mjs", "--private", priv, "--public", pub);
    expect(made.status, made.stderr).toBe(0);
    expect(statSync(priv).mode & 0o777).toBe(0o600);
    const key = readUpdateKey(pub);
    expect(key).toEqual(keyOf(createPrivateKey(readFileSync(priv))));
    const image = join(dir, "image.json");
    writeFileSync(image, IMAGE);
    execFileSync(process.execPath, ["scripts/sign.mjs", image, "--key", priv]);
    const signed = new Uint8Array(readFileSync(image + ".signed"));
    const first = new RecordingSlot();
    const r = new UpdateReceiver(first, nodeCrypto, key);
    r.write(signed);
    expectAccepted(first, r.end());
    expect(r.version).toBe("2.0.0-host"); // a host image's own version
    expect(first.begun).toEqual([IMAGE.length]);
    // another version on the command line: the header says it, the signature covers it
    execFileSync(process.execPath, ["scripts/sign.mjs", image, "--key", priv, "--version", "1.0.0 Build 1", "--out", join(dir, "other.signed")]);
    const other = new UpdateReceiver(new RecordingSlot(), nodeCrypto, key);
    other.write(readFileSync(join(dir, "other.signed")));
    expect(other.end()).toBe("accepted");
    expect(other.version).toBe("1.0.0 Build 1");
    // and under a key of its own the image is refused
    expectRefused((slot = new RecordingSlot()), receive(slot, signed), "signature");
  });

  it("keygen never replaces a key; sign refuses what it cannot sign", () => {
    const priv = join(dir, "kept.pem");
    const pub = join(dir, "kept.json");
    expect(run("keygen.mjs", "--private", priv, "--public", pub).status).toBe(0);
    const before = readFileSync(priv, "utf8");
    const again = run("keygen.mjs", "--private", priv, "--public", join(dir, "other-public.json"));
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("never replaces");
    expect(readFileSync(priv, "utf8")).toBe(before);
    expect(run("keygen.mjs", "--private", join(dir, "new.pem"), "--public", pub).status).toBe(1);
    const image = join(dir, "img.bin");
    writeFileSync(image, "x");
    const noKey = run("sign.mjs", image, "--key", join(dir, "none.pem"));
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toContain("npm run keygen");
    const badVersion = run("sign.mjs", image, "--key", priv, "--version", "é");
    expect(badVersion.status).toBe(1);
    expect(badVersion.stderr).toContain("printable ASCII");
    writeFileSync(join(dir, "empty.bin"), "");
    expect(run("sign.mjs", join(dir, "empty.bin"), "--key", priv).status).toBe(1);
  });
});

describe("the receiver", () => {
  const signed = signedImage(IMAGE, KEY.privateKey);

  it("accepts the image in chunks split at every point, and byte by byte, with the same bytes in the slot", () => {
    for (let split = 0; split <= signed.length; split++) {
      expectAccepted((slot = new RecordingSlot()), receive(slot, signed, KEY.raw, [split]));
    }
    for (let a = 1; a < signed.length; a += 7) {
      for (let b = 1; a + b < signed.length; b += 5) expectAccepted((slot = new RecordingSlot()), receive(slot, signed, KEY.raw, [a, b]));
    }
    expectAccepted((slot = new RecordingSlot()), receive(slot, signed, KEY.raw, Array(signed.length).fill(1)));
  });

  it("refuses a changed byte anywhere: header, image or signature", () => {
    for (let i = 0; i < signed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = signed.slice();
        bad[i] ^= bit;
        const status = receive((slot = new RecordingSlot()), bad);
        expectRefused(slot, status);
      }
    }
  });

  it("refuses an unsigned image (no header, or a header and no signature, or a signature of zeros)", () => {
    const firmware = new Uint8Array(200).map((_, i) => (i * 7) & 255); // an image as the build makes it
    expectRefused((slot = new RecordingSlot()), receive(slot, firmware), "magic");
    expect(slot.begun).toEqual([]);
    const headed = new Uint8Array([...imageHeader(IMAGE.length, "1.2.3"), ...IMAGE]);
    expectRefused((slot = new RecordingSlot()), receive(slot, headed), "truncated");
    expectRefused((slot = new RecordingSlot()), receive(slot, new Uint8Array([...headed, ...new Uint8Array(64)])), "signature");
  });

  it("refuses an image signed with another key, and a key that is not one", () => {
    const other = testKey();
    expectRefused((slot = new RecordingSlot()), receive(slot, signedImage(IMAGE, other.privateKey)), "signature");
    expectRefused((slot = new RecordingSlot()), receive(slot, signed, other.raw), "signature");
    expectRefused((slot = new RecordingSlot()), receive(slot, signed, new Uint8Array(65)), "signature");
    expectRefused((slot = new RecordingSlot()), receive(slot, signed, KEY.raw.subarray(1)), "signature");
  });

  it("refuses every truncation, and bytes after the signature", () => {
    for (let n = 0; n < signed.length; n++) {
      const status = receive((slot = new RecordingSlot()), signed.subarray(0, n));
      expectRefused(slot, status, "truncated");
    }
    expectRefused((slot = new RecordingSlot()), receive(slot, new Uint8Array([...signed, 0])), "trailing");
  });

  it("refuses a declared length over the slot's size before writing a byte, and a malformed header", () => {
    const big = new Uint8Array(5000).fill(0x20);
    slot = new RecordingSlot(4096);
    const r = new UpdateReceiver(slot, nodeCrypto, KEY.raw);
    expect(r.write(signedImage(big, KEY.privateKey).subarray(0, 44))).toBe("size");
    expect(slot.begun).toEqual([]);
    expect(r.end()).toBe("size");
    // signed by the owner, yet longer than the slot
    expectRefused((slot = new RecordingSlot(IMAGE.length - 1)), receive(slot, signed), "size");
    expectAccepted((slot = new RecordingSlot(IMAGE.length)), receive(slot, signed));
    const huge = signedImage(IMAGE, KEY.privateKey, "1.2.3", 0xffffffff);
    expectRefused((slot = new RecordingSlot()), receive(slot, huge), "size");
    expectRefused((slot = new RecordingSlot()), receive(slot, signedImage(IMAGE, KEY.privateKey, "1.2.3", 0)), "header");
    expectRefused((slot = new RecordingSlot()), receive(slot, signedImage(IMAGE, KEY.privateKey, "bad\tversion")), "header");
    expectRefused((slot = new RecordingSlot()), receive(slot, signedImage(IMAGE, KEY.privateKey, "")), "header");
    const format2 = signed.slice();
    format2[4] = 2;
    expectRefused((slot = new RecordingSlot()), receive(slot, format2), "format");
  });

  it("refuses garbage of any length in any chunks, never committing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(40), { maxLength: 8 }), fc.boolean(), (bytes, chunks, magic) => {
        if (magic && bytes.length >= 5) bytes.set([0x4b, 0x50, 0x46, 0x57, 1]); // past the magic too
        const s = new RecordingSlot();
        const status = receive(s, bytes, KEY.raw, chunks.filter((_, i) => chunks.slice(0, i + 1).reduce((a, b) => a + b, 0) <= bytes.length));
        expectRefused(s, status);
      }),
      { numRuns: 300 },
    );
  });

  it("aborts the slot when it cannot be written or committed, or the stream breaks", () => {
    slot = new RecordingSlot();
    slot.failWrite = true;
    expectRefused(slot, receive(slot, signed), "slot");
    slot = new RecordingSlot();
    slot.failComplete = true;
    expect(receive(slot, signed)).toBe("slot");
    expect(slot.aborted).toBe(1);
    slot = new RecordingSlot();
    slot.failBegin = true;
    expect(receive(slot, signed)).toBe("slot");
    slot = new RecordingSlot();
    const r = new UpdateReceiver(slot, nodeCrypto, KEY.raw);
    r.write(signed.subarray(0, 100));
    expect(r.cancel()).toBe("cancelled");
    expectRefused(slot, r.end(), "cancelled");
    // a final status stays: more bytes do nothing
    expect(r.write(signed)).toBe("cancelled");
    expect(slot.parts.length).toBe(1);
  });
});
