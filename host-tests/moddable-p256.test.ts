// Signed updates' signature check on Moddable (src/moddable/p256.ts through the crypto port) without
// the SDK: `crypt` and the SDK's ECDSA modules are replaced by stand-ins that do what the natives do
// with their arguments (support/sdk-crypt.ts, support/sdk-ecdsa.ts). node:crypto makes the keys and
// signatures, as `npm run sign` does. `npm run sim:crypto` runs the same checks on the real natives.

import { generateKeyPairSync, sign } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { RecordingSlot, rawKey, signedImage, testKey } from "./support/update.js";
import { sdkCalls } from "./support/sdk-ecdsa.js";

vi.mock("crypt", () => import("./support/sdk-crypt.js"));
vi.mock("curve", () => import("./support/sdk-ecdsa.js").then((m) => ({ default: m.Curve })));
vi.mock("ecdsa", () => import("./support/sdk-ecdsa.js").then((m) => ({ default: m.ECDSA })));
vi.mock("ecp", () => import("./support/sdk-ecdsa.js").then((m) => ({ default: m.ECPoint })));

const { ModdableCrypto } = await import("../src/moddable/crypto.js");
const { p256Verifier } = await import("../src/moddable/p256.js");
const { UpdateReceiver } = await import("../src/core/update/image.js");

const N = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");
const P = Buffer.from("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", "hex");

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const key = rawKey(publicKey);
// a signed image's shape: a header, a body, a few odd bytes
const parts = [Uint8Array.from({ length: 44 }, (_, i) => i), Uint8Array.from({ length: 700 }, (_, i) => (i * 7) & 0xff), Uint8Array.of(1, 2, 3)];
const signature = new Uint8Array(sign("sha256", Buffer.concat(parts), { key: privateKey, dsaEncoding: "ieee-p1363" }));

function check(crypto: InstanceType<typeof ModdableCrypto>, k: Uint8Array, pieces: Uint8Array[], sig: Uint8Array): boolean {
  const verifier = crypto.p256Verifier(k);
  for (const piece of pieces) verifier.write(piece);
  return verifier.verify(sig);
}

const withSignatures = () => new ModdableCrypto(p256Verifier);
const flipped = (bytes: Uint8Array, at: number) => {
  const copy = bytes.slice();
  copy[at] ^= 1;
  return copy;
};
const sig = (r: Uint8Array, s: Uint8Array) => new Uint8Array([...r, ...s]);
const r = signature.subarray(0, 32);
const s = signature.subarray(32);

describe("the Moddable crypto port's ECDSA P-256 (signed updates), on stand-ins with the SDK's rules", () => {
  beforeEach(() => {
    sdkCalls.verify = 0;
  });

  it("verifies node:crypto's signature over a message in parts, however it is split", () => {
    const crypto = withSignatures();
    expect(check(crypto, key, parts, signature)).toBe(true);
    const bytes = Buffer.concat(parts);
    expect(check(crypto, key, Array.from(bytes.subarray(0, 60), (b) => Uint8Array.of(b)).concat([bytes.subarray(60)]), signature)).toBe(true);
    expect(check(crypto, key, [bytes], signature)).toBe(true);
  });

  it("refuses a tampered or shortened message, a tampered r or s, and another key", () => {
    const crypto = withSignatures();
    const other = testKey().raw;
    expect(check(crypto, key, [parts[0], flipped(parts[1], 9), parts[2]], signature)).toBe(false);
    expect(check(crypto, key, [parts[0], parts[1].subarray(1), parts[2]], signature)).toBe(false);
    expect(check(crypto, key, parts, flipped(signature, 3))).toBe(false);
    expect(check(crypto, key, parts, flipped(signature, 63))).toBe(false);
    expect(check(crypto, other, parts, signature)).toBe(false);
  });

  it("answers false, without asking the SDK, for a key that is not an uncompressed point on P-256", () => {
    const crypto = withSignatures();
    const keys = [
      flipped(key, 64), // y changed: off the curve
      Uint8Array.of(2, ...key.subarray(1)), // not the uncompressed form
      key.subarray(0, 64),
      new Uint8Array([...key, 0]),
      new Uint8Array([4, ...P, ...key.subarray(33)]), // x = p
      new Uint8Array(65).fill(0), // no prefix, the origin
    ];
    for (const k of keys) expect(check(crypto, k, parts, signature)).toBe(false);
    expect(sdkCalls.verify).toBe(0);
  });

  it("answers false, without asking the SDK, for r or s outside [1, n-1] and a signature of another length", () => {
    const crypto = withSignatures();
    const zero = new Uint8Array(32);
    const ones = new Uint8Array(32).fill(0xff);
    const bad = [sig(zero, s), sig(r, zero), sig(N, s), sig(r, N), sig(ones, s), sig(r, ones), signature.subarray(0, 63), new Uint8Array([...signature, 0]), new Uint8Array(0)];
    for (const b of bad) expect(check(crypto, key, parts, b)).toBe(false);
    expect(sdkCalls.verify).toBe(0);
    // n - 1 is in range: the SDK is asked (and says no)
    const nMinus1 = Uint8Array.from(N);
    nMinus1[31]--;
    expect(check(crypto, key, parts, sig(r, nMinus1))).toBe(false);
    expect(sdkCalls.verify).toBe(1);
  });

  it("answers once: a second verify on the same check is false", () => {
    const verifier = withSignatures().p256Verifier(key);
    for (const part of parts) verifier.write(part);
    expect(verifier.verify(signature)).toBe(true);
    expect(verifier.verify(signature)).toBe(false);
  });

  it("takes a signed image through the update receiver into the slot, and refuses a tampered one there", () => {
    const owner = testKey();
    const image = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) & 0xff);
    const signed = signedImage(image, owner.privateKey);
    const slot = new RecordingSlot();
    const receiver = new UpdateReceiver(slot, withSignatures(), owner.raw);
    for (let at = 0; at < signed.length; at += 97) receiver.write(signed.subarray(at, at + 97));
    expect(receiver.end()).toBe("accepted");
    expect([slot.completed, Buffer.concat(slot.parts).equals(Buffer.from(image))]).toEqual([1, true]);

    const tampered = flipped(signed, 500);
    const refused = new RecordingSlot();
    const second = new UpdateReceiver(refused, withSignatures(), owner.raw);
    second.write(tampered);
    expect([second.end(), refused.completed, refused.aborted]).toEqual(["signature", 0, 1]);
  });
});
