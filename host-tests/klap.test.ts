// KLAP's core (src/core/klap/) against values python-kasa's own code computed
// (host-tests/support/klap-vectors.json, made by scripts/klap-vectors.py), and the plug's refusals:
// every request body that is not exactly what a client holding the session would send is refused
// with a reason (the HTTP side will answer 403), never with an exception.

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  KLAP_SIGNATURE_BYTES, klapAuthHash, klapHandshake1, klapHandshake2, klapHandshake2Valid, KlapSession, type KlapVersion,
} from "../src/core/klap/klap.js";
import { nodeCrypto } from "../src/host/crypto.js";

type Message = { seq: number; plaintext: string; body: string };
type Vectors = {
  pythonKasa: string;
  authHashes: { username: string; password: string; v1: string; v2: string }[];
  handshakes: { version: KlapVersion; localSeed: string; remoteSeed: string; authHash: string; handshake1: string; handshake2: string }[];
  sessions: { localSeed: string; remoteSeed: string; authHash: string; key: string; iv: string; seq: number; sig: string; messages: Message[] }[];
  wrap: { localSeed: string; remoteSeed: string; authHash: string; last: Message; beyond: string; lowest: Message };
};

const vectors = JSON.parse(readFileSync(new URL("./support/klap-vectors.json", import.meta.url), "utf8")) as Vectors;
const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
/** As the plug will bound it: the largest request frame (limits.ts maxFrameBytes on every board today). */
const MAX_PLAINTEXT = 2048;
const REFUSALS = ["seq", "size", "signature", "padding"];

function session(v: { localSeed: string; remoteSeed: string; authHash: string }, max = MAX_PLAINTEXT): KlapSession {
  return new KlapSession(nodeCrypto, hex(v.localSeed), hex(v.remoteSeed), hex(v.authHash), max);
}

/** A body signed with the session's own key and signature over raw (unpadded by us) plaintext blocks. */
function signedRaw(s: KlapSession, seq: number, blocks: Uint8Array): Uint8Array {
  const seqBytes = new Uint8Array(4);
  new DataView(seqBytes.buffer).setInt32(0, seq);
  const iv = new Uint8Array([...s.iv, ...seqBytes]);
  const ciphertext = blocks.slice();
  nodeCrypto.aes128Cbc(true, s.key, iv, ciphertext);
  return new Uint8Array([...nodeCrypto.sha256(s.sig, seqBytes, ciphertext), ...ciphertext]);
}

describe("KLAP, byte for byte as python-kasa computes it", () => {
  it(`was generated with python-kasa ${vectors.pythonKasa} and covers both seq signs, empty and block-aligned plaintexts`, () => {
    const seqs = vectors.sessions.map((s) => s.seq);
    expect(seqs.some((q) => q < 0) && seqs.some((q) => q > 0)).toBe(true);
    const lengths = vectors.sessions[0].messages.map((m) => m.plaintext.length / 2);
    expect(lengths).toContain(0);
    expect(lengths).toContain(16);
    expect(lengths).toContain(32);
  });

  it("derives the v1 and v2 auth hashes of every username and password", () => {
    for (const c of vectors.authHashes) {
      expect([c.username, toHex(klapAuthHash(nodeCrypto, 1, utf8(c.username), utf8(c.password)))]).toEqual([c.username, c.v1]);
      expect([c.username, toHex(klapAuthHash(nodeCrypto, 2, utf8(c.username), utf8(c.password)))]).toEqual([c.username, c.v2]);
    }
  });

  it("answers handshake1 with its seed and the hash python-kasa checks, and expects its handshake2", () => {
    for (const h of vectors.handshakes) {
      const [ls, rs, ah] = [hex(h.localSeed), hex(h.remoteSeed), hex(h.authHash)];
      expect(toHex(klapHandshake1(nodeCrypto, h.version, ls, rs, ah)!)).toBe(h.remoteSeed + h.handshake1);
      expect(toHex(klapHandshake2(nodeCrypto, h.version, ls, rs, ah))).toBe(h.handshake2);
      expect(klapHandshake2Valid(nodeCrypto, h.version, ls, rs, ah, hex(h.handshake2))).toBe(true);
    }
  });

  it("answers handshake1 only for a 16-byte client seed", () => {
    const h = vectors.handshakes[0];
    const [ls, rs, ah] = [hex(h.localSeed), hex(h.remoteSeed), hex(h.authHash)];
    for (const seed of [new Uint8Array(0), ls.subarray(0, 15), new Uint8Array([...ls, 0]), new Uint8Array(4096)]) {
      expect([seed.length, klapHandshake1(nodeCrypto, 1, seed, rs, ah)]).toEqual([seed.length, undefined]);
      expect([seed.length, klapHandshake1(nodeCrypto, 2, seed, rs, ah)]).toEqual([seed.length, undefined]);
    }
    expect(klapHandshake1(nodeCrypto, 1, ls, rs.subarray(0, 8), ah)).toBeUndefined();
  });

  it("refuses a handshake2 from a client without the auth hash", () => {
    const h = vectors.handshakes[0];
    const [ls, rs, ah] = [hex(h.localSeed), hex(h.remoteSeed), hex(h.authHash)];
    const good = hex(h.handshake2);
    const flipped = good.slice();
    flipped[31] ^= 1;
    const blank = klapAuthHash(nodeCrypto, 1, new Uint8Array(0), new Uint8Array(0));
    expect(klapHandshake2Valid(nodeCrypto, 1, ls, rs, ah, flipped)).toBe(false);
    expect(klapHandshake2Valid(nodeCrypto, 1, ls, rs, ah, good.subarray(0, 31))).toBe(false);
    expect(klapHandshake2Valid(nodeCrypto, 1, ls, rs, ah, new Uint8Array([...good, 0]))).toBe(false);
    expect(klapHandshake2Valid(nodeCrypto, 1, ls, rs, ah, new Uint8Array(0))).toBe(false);
    expect(klapHandshake2Valid(nodeCrypto, 1, ls, rs, ah, klapHandshake2(nodeCrypto, 1, ls, rs, blank))).toBe(false);
    // the v2 form of the same session is not the v1 one
    expect(klapHandshake2Valid(nodeCrypto, 1, ls, rs, ah, klapHandshake2(nodeCrypto, 2, ls, rs, ah))).toBe(false);
  });

  it("derives the session key, IV, first sequence number and signature prefix", () => {
    for (const v of vectors.sessions) {
      const s = session(v);
      expect([toHex(s.key), toHex(s.iv), s.firstSeq, toHex(s.sig)]).toEqual([v.key, v.iv, v.seq, v.sig]);
    }
  });

  it("seals every answer as python-kasa's encrypt does at the same sequence number", () => {
    for (const v of vectors.sessions) {
      const s = session(v);
      for (const m of v.messages) expect(toHex(s.seal(hex(m.plaintext), m.seq)!)).toBe(m.body);
    }
  });

  it("opens every request python-kasa's client sends, in order", () => {
    for (const v of vectors.sessions) {
      const s = session(v);
      for (const m of v.messages) {
        const opened = s.open(hex(m.body), m.seq);
        expect(opened instanceof Uint8Array ? toHex(opened) : opened).toBe(m.plaintext);
        expect(s.lastSeq).toBe(m.seq);
      }
    }
  });

  it("works up to int32's ends and, like python-kasa, not beyond", () => {
    const w = vectors.wrap;
    expect(w.beyond).toMatch(/^struct\.error/); // python-kasa cannot send seq 2^31
    const s = session(w);
    expect(toHex(s.seal(hex(w.last.plaintext), w.last.seq)!)).toBe(w.last.body);
    expect(toHex(s.seal(hex(w.lowest.plaintext), w.lowest.seq)!)).toBe(w.lowest.body);
    expect(s.seal(hex(w.last.plaintext), 2 ** 31)).toBeUndefined();
    expect(s.seal(hex(w.last.plaintext), -(2 ** 31) - 1)).toBeUndefined();
    const opened = s.open(hex(w.last.body), w.last.seq);
    expect(opened instanceof Uint8Array && toHex(opened)).toBe(w.last.plaintext);
    // nothing comes after int32's largest: no wrap to the lowest
    expect(s.open(hex(w.lowest.body), w.lowest.seq)).toBe("seq");
    expect(s.open(hex(w.last.body), 2 ** 31)).toBe("seq");
  });
});

describe("KLAP request bodies the plug refuses", () => {
  const v = vectors.sessions[0];
  const [first, second] = v.messages.slice(1, 3);

  it("refuses a wrong signature, and the genuine body still opens after it", () => {
    const s = session(v);
    const forged = hex(first.body);
    forged[0] ^= 0x80;
    expect(s.open(forged, first.seq)).toBe("signature");
    expect(s.lastSeq).toBe(v.seq);
    expect(s.open(hex(first.body), first.seq)).toBeInstanceOf(Uint8Array);
  });

  it("refuses a tampered ciphertext", () => {
    const s = session(v);
    for (const at of [KLAP_SIGNATURE_BYTES, hex(first.body).length - 1]) {
      const tampered = hex(first.body);
      tampered[at] ^= 1;
      expect(s.open(tampered, first.seq)).toBe("signature");
    }
  });

  it("opens in place: the plaintext is a view into the request body, not a copy", () => {
    const s = session(v);
    const body = hex(first.body);
    const opened = s.open(body, first.seq) as Uint8Array;
    expect(opened.buffer).toBe(body.buffer);
    expect(toHex(opened)).toBe(first.plaintext);
  });

  it("refuses a body under another sequence number than it was signed for", () => {
    const s = session(v);
    expect(s.open(hex(first.body), second.seq)).toBe("signature");
  });

  it("refuses a replayed or older sequence number", () => {
    const s = session(v);
    expect(s.open(hex(second.body), second.seq)).toBeInstanceOf(Uint8Array);
    expect(s.open(hex(second.body), second.seq)).toBe("seq"); // replayed
    expect(s.open(hex(first.body), first.seq)).toBe("seq"); // older, though never used
    const fresh = session(v);
    expect(fresh.seal(new Uint8Array(0), v.seq)).toBeDefined();
    expect(fresh.open(fresh.seal(new Uint8Array(0), v.seq)!, v.seq)).toBe("seq"); // the derivation's own seq is never a request's
  });

  it("refuses sequence numbers that are not int32 integers", () => {
    const s = session(v);
    for (const seq of [Number.NaN, Infinity, -Infinity, first.seq + 0.5, 2 ** 31, 2 ** 53, -(2 ** 31) - 1]) {
      expect(s.open(hex(first.body), seq)).toBe("seq");
    }
  });

  it("refuses a bad padding even when correctly signed", () => {
    const s = session(v);
    let seq = first.seq;
    const block = (last: number, fill = last) => {
      const b = new Uint8Array(16).fill(fill);
      b[15] = last;
      return b;
    };
    for (const bad of [block(0), block(17), block(0xff), block(3, 2), block(16, 15)]) {
      seq++;
      expect(s.open(signedRaw(s, seq, bad), seq)).toBe("padding");
    }
    // and the same construction with a good padding opens: the refusals are the padding's
    seq++;
    const good = s.open(signedRaw(s, seq, block(16)), seq);
    expect(good instanceof Uint8Array && good.length).toBe(0);
  });

  it("refuses a body too long, too short or not whole blocks, before any crypto", () => {
    const s = session(v, 64);
    expect(s.maxBodyBytes()).toBe(32 + 80);
    const longest = s.seal(new Uint8Array(64), first.seq)!;
    expect(longest.length).toBe(s.maxBodyBytes());
    expect(s.seal(new Uint8Array(65), first.seq)).toBeUndefined();
    const calls = { n: 0 };
    const counting = { ...nodeCrypto, sha256: (...p: Uint8Array[]) => (calls.n++, nodeCrypto.sha256(p[0], p[1], p[2], p[3])), aes128Cbc: (...a: Parameters<typeof nodeCrypto.aes128Cbc>) => (calls.n++, nodeCrypto.aes128Cbc(...a)) };
    const t = new KlapSession(counting, hex(v.localSeed), hex(v.remoteSeed), hex(v.authHash), 64);
    calls.n = 0;
    let seq = first.seq;
    for (const length of [0, 31, 32, 33, 47, 32 + 17, s.maxBodyBytes() + 16, 100_000]) {
      expect([length, t.open(new Uint8Array(length), ++seq)]).toEqual([length, "size"]);
    }
    expect(calls.n).toBe(0);
    // a correctly signed body one block over the bound is refused too
    const over = signedRaw(t, ++seq, new Uint8Array(96).fill(16));
    expect(t.open(over, seq)).toBe("size");
  });

  it("never throws on any body or sequence number, and opens only what the session sealed", () => {
    const s = session(v);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.double()), (body, seq) => {
        const result = s.open(body, seq);
        expect(REFUSALS).toContain(result);
      }),
      { numRuns: 2000 },
    );
    // sealed ones open, at ever higher sequence numbers
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_PLAINTEXT }), (plaintext) => {
        const seq = s.lastSeq + 1;
        const opened = s.open(s.seal(plaintext, seq)!, seq);
        expect(opened instanceof Uint8Array && toHex(opened)).toBe(toHex(plaintext));
      }),
      { numRuns: 200 },
    );
  });
});
