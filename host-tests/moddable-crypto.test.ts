// The Moddable crypto port (src/moddable/crypto.ts) without the SDK: its `crypt` module is replaced
// by a stand-in on node:crypto that keeps the natives' rules as modCrypt.c has them (SDK 8.2.3):
// BlockCipher's key and Mode's IV must be whole ArrayBuffers (copied at construction), Mode#encrypt
// writes into a whole ArrayBuffer from its start, Mode#decrypt into any buffer, CBC carries on from one
// call to the next, a Digest must be reset after close. `npm run sim:crypto` runs the real natives in
// the simulator; this runs in npm test, where CI has no SDK.

import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { counts } from "./support/sdk-crypt.js";
import { klapExpected, klapMismatches, klapResults, type KlapVectors } from "./xs/klap-check.js";

vi.mock("crypt", () => import("./support/sdk-crypt.js"));

const { ModdableCrypto } = await import("../src/moddable/crypto.js");
const crypt = (await import("crypt")) as unknown as { BlockCipher: new (name: string, key: unknown) => unknown };
const { nodeCrypto } = await import("../src/host/crypto.js");

const vectors = JSON.parse(readFileSync(new URL("./support/klap-vectors.json", import.meta.url), "utf8")) as KlapVectors;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const counting = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

describe("the Moddable crypto port, on a stand-in with the SDK natives' rules", () => {
  it("the stand-in refuses a view where the natives want a whole ArrayBuffer", () => {
    expect(() => new crypt.BlockCipher("AES", new Uint8Array(16))).toThrow(TypeError);
    expect(() => new crypt.BlockCipher("AES", new Uint8Array(32).subarray(16).buffer)).toThrow(/AES-256/);
  });

  it("gives python-kasa's values through the KLAP core (sealing into a view, opening in place)", () => {
    const expected = klapExpected(vectors);
    expect(klapMismatches(klapResults(new ModdableCrypto(), vectors), expected)).toEqual([]);
  });

  it("encrypts a view at any offset as node:crypto does a whole buffer, touching nothing around it, and decrypts it back", () => {
    const crypto = new ModdableCrypto();
    const [key, iv] = [counting(16, 1), counting(16, 0x40)];
    for (const length of [16, 48, 64, 80, 208, 2064]) {
      const want = counting(length, length);
      nodeCrypto.aes128Cbc(true, key, iv, want);
      const body = new Uint8Array(length + 48).fill(0xee);
      body.set(counting(length, length), 32);
      const view = body.subarray(32, 32 + length);
      crypto.aes128Cbc(true, key, iv, view);
      expect([length, hex(view)]).toEqual([length, hex(want)]);
      expect([...body.subarray(0, 32), ...body.subarray(32 + length)].every((b) => b === 0xee)).toBe(true);
      crypto.aes128Cbc(false, key, iv, view);
      expect([length, hex(view)]).toEqual([length, hex(counting(length, length))]);
      const whole = counting(length, length);
      crypto.aes128Cbc(true, key, iv, whole);
      expect([length, "whole", hex(whole)]).toEqual([length, "whole", hex(want)]);
    }
  });

  it("hashes in parts, empty parts included, with one SHA-256 Digest for every call", () => {
    const crypto = new ModdableCrypto();
    const before = counts.digests.get("SHA256") ?? 0;
    const abc = Uint8Array.from([0x61, 0x62, 0x63]);
    for (let i = 0; i < 5; i++) {
      expect(hex(crypto.sha256(abc.subarray(0, 1), new Uint8Array(0), abc.subarray(1)))).toBe(hex(nodeCrypto.sha256(abc)));
    }
    expect(hex(crypto.md5(new Uint8Array(0)))).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(hex(crypto.sha1(abc))).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect((counts.digests.get("SHA256") ?? 0) - before).toBe(1);
  });

  it("streams a SHA-256 in parts (views at offsets) as one call over their concatenation, while the kept Digest hashes in between", () => {
    const crypto = new ModdableCrypto();
    const data = counting(300, 7);
    const stream = crypto.sha256Stream();
    stream.write(data.subarray(0, 32));
    expect(hex(crypto.sha256(data.subarray(5, 9)))).toBe(hex(nodeCrypto.sha256(data.subarray(5, 9))));
    stream.write(data.subarray(32, 32));
    stream.write(data.subarray(32, 300));
    expect(hex(stream.close())).toBe(hex(nodeCrypto.sha256(data)));
  });
});
