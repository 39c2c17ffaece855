// Property-based fuzzing of the wire layer (PROTOCOL §1.1-§1.3): the streaming frame decoder against
// a reference parser of the whole stream, the autokey XOR, UTF-8 against TextEncoder/TextDecoder, and
// datagram decoding. docs/FUZZING.md lists the properties and their runs.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeDatagram, FrameDecoder, HEADER_BYTES, MAX_FRAME_BYTES } from "../src/core/protocol/wire/frame.js";
import { JsonOut } from "../src/core/protocol/wire/json-out.js";
import { utf8Decode, utf8Encode, utf8Length } from "../src/core/protocol/wire/utf8.js";
import { decrypt, INITIAL_KEY } from "../src/core/protocol/wire/xor.js";
import { concat, fuzzed, fuzzTimeout, lengthHeader, split } from "./support/fuzz.js";
import { answerFrame, encrypt } from "./support/wire.js";

const frameOf = (plain: Uint8Array) => concat([lengthHeader(plain.length), encrypt(plain.slice())]);

/** What the decoder must do with a whole stream: the frames it holds, and where a too-large length ends (-1: nowhere). */
function reference(stream: Uint8Array, max: number): { frames: { plain: Uint8Array; last: number }[]; brokenAt: number; boundaries: Set<number> } {
  const frames: { plain: Uint8Array; last: number }[] = [];
  const boundaries = new Set([0]);
  let pos = 0;
  while (pos + HEADER_BYTES <= stream.length) {
    const length = new DataView(stream.buffer, stream.byteOffset + pos).getUint32(0);
    if (length > max) return { frames, brokenAt: pos + HEADER_BYTES - 1, boundaries };
    const end = pos + HEADER_BYTES + length;
    if (end > stream.length) break;
    frames.push({ plain: decrypt(stream.slice(pos + HEADER_BYTES, end)), last: end - 1 });
    boundaries.add(end);
    pos = end;
  }
  return { frames, brokenAt: -1, boundaries };
}

/**
 * Feeds the chunks one by one and checks each step against the reference: feed's result, which
 * frames arrive during which chunk (exactly the chunk holding a frame's last byte), their bytes,
 * `pending`, and the size of every buffer handed over. Returns the frames delivered.
 */
function checkAgainstReference(chunks: readonly Uint8Array[], max: number): Uint8Array[] {
  const stream = concat(chunks);
  const want = reference(stream, max);
  const decoder = new FrameDecoder(max);
  const got: Uint8Array[] = [];
  let start = 0;
  for (const chunk of chunks) {
    const end = start + chunk.length;
    const arrived: Uint8Array[] = [];
    const ok = decoder.feed(chunk, (p) => arrived.push(p));
    expect(ok).toBe(want.brokenAt < 0 || want.brokenAt >= end);
    const due = want.frames.filter((f) => f.last >= start && f.last < end);
    expect(arrived.map((p) => [...p])).toEqual(due.map((f) => [...f.plain]));
    for (const p of arrived) {
      // the decoder's own buffer, allocated at the declared length: never more than the bound
      expect(p.byteLength).toBeLessThanOrEqual(max);
      expect(p.buffer.byteLength).toBe(p.byteLength);
    }
    if (ok) expect(decoder.pending).toBe(!want.boundaries.has(end));
    got.push(...arrived);
    start = end;
  }
  expect(got).toHaveLength(want.frames.length);
  return got;
}

const plainArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map(utf8Encode) },
);

/** A piece of a stream: a good frame, a length header alone (any value), or stray bytes. */
const segmentArb = fc.oneof(
  { weight: 5, arbitrary: plainArb.map(frameOf) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }).map(lengthHeader) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffffffff }).map(lengthHeader) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }) },
);

type ByteMutation = { op: "flip" | "insert" | "delete" | "truncate" | "huge"; at: number; bits: number };

const byteMutationArb: fc.Arbitrary<ByteMutation> = fc.record({
  op: fc.constantFrom("flip", "insert", "delete", "truncate", "huge"),
  at: fc.nat(),
  bits: fc.integer({ min: 1, max: 0xffffffff }),
});

/** Bit flips, inserted and deleted bytes, a truncated end, a length field overwritten with a huge value. */
function mutateBytes(stream: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let bytes = Array.from(stream);
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    if (m.op === "flip" && at < bytes.length) bytes[at] ^= 1 << (m.bits % 8);
    else if (m.op === "insert") bytes.splice(at, 0, m.bits & 0xff);
    else if (m.op === "delete") bytes.splice(at, 1 + (m.bits % 4));
    else if (m.op === "truncate") bytes = bytes.slice(0, at);
    else if (m.op === "huge") bytes.splice(at, 4, ...lengthHeader(Math.max(m.bits, MAX_FRAME_BYTES + 1)));
  }
  return Uint8Array.from(bytes);
}

const boundArb = fc.oneof(fc.constant(MAX_FRAME_BYTES), fc.integer({ min: 0, max: 300 }));
const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

describe("frame decoder (fuzzed)", { timeout: fuzzTimeout() }, () => {
  it("random byte streams in random chunks: never throws, agrees with the reference parser", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), boundArb, (chunks, max) => {
        checkAgainstReference(chunks, max);
      }),
      fuzzed(2000),
    );
  });

  it("valid frames split at random points arrive whole, in order, each exactly when complete", () => {
    fc.assert(
      fc.property(fc.array(plainArb, { maxLength: 10 }), cutsArb, (plains, cuts) => {
        const got = checkAgainstReference(split(concat(plains.map(frameOf)), cuts), MAX_FRAME_BYTES);
        expect(got.map((p) => [...p])).toEqual(plains.map((p) => [...p]));
      }),
      fuzzed(1500),
    );
  });

  it("mixed and mutated streams (bit flips, inserted/deleted bytes, truncation, huge lengths) agree with the reference", () => {
    fc.assert(
      fc.property(fc.array(segmentArb, { maxLength: 10 }), fc.array(byteMutationArb, { maxLength: 5 }), cutsArb, boundArb, (segments, mutations, cuts, max) => {
        checkAgainstReference(split(mutateBytes(concat(segments), mutations), cuts), max);
      }),
      fuzzed(2500),
    );
  });

  it("after a length over the bound, feed stays false and delivers nothing, whatever follows", () => {
    fc.assert(
      fc.property(
        fc.array(plainArb, { maxLength: 3 }),
        fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffffffff }),
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), plainArb.map(frameOf)), { maxLength: 6 }),
        (before, length, after) => {
          const d = new FrameDecoder();
          let delivered = 0;
          expect(d.feed(concat(before.map(frameOf)), () => delivered++)).toBe(true);
          expect(delivered).toBe(before.length);
          expect(d.feed(lengthHeader(length), () => delivered++)).toBe(false);
          for (const chunk of after) expect(d.feed(chunk, () => delivered++)).toBe(false);
          expect(delivered).toBe(before.length);
        },
      ),
      fuzzed(1000),
    );
  });

  it("holds memory for the declared length only when it is within the bound (measured, not stubbed)", () => {
    // process.memoryUsage().arrayBuffers counts every ArrayBuffer's backing store as it is allocated
    // (a 2 GiB Uint8Array shows as 2 GiB at once), so a decoder that allocated a declared length
    // before checking it would show here. Headers arrive byte by byte, a body partly.
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: MAX_FRAME_BYTES }), fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffffffff })), fc.nat({ max: 64 }), (length, partial) => {
        const d = new FrameDecoder();
        const before = process.memoryUsage().arrayBuffers;
        let ok = true;
        for (const b of lengthHeader(length)) ok = d.feed(Uint8Array.of(b), () => {}) && ok;
        ok = d.feed(new Uint8Array(Math.min(partial, Math.max(length - 1, 0))), () => {}) && ok;
        const grown = process.memoryUsage().arrayBuffers - before;
        expect(ok).toBe(length <= MAX_FRAME_BYTES);
        // the body's buffer when the length is allowed; nothing (but a little slack) when it is not
        expect(grown).toBeLessThanOrEqual((ok ? length : 0) + 1024);
      }),
      fuzzed(300),
    );
  });
});

/** Any string, lone surrogates and astral characters included (fast-check's "binary" unit has no lone surrogates). */
const anyStringArb = fc.string({
  maxLength: 60,
  unit: fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
    { weight: 2, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
    { weight: 1, arbitrary: fc.constantFrom("\u0000", "\u007f", "\u0080", "\u07ff", "\u0800", "\uffff", "\ufffd", "\ufeff") },
  ),
});

/** The WHATWG decoder, keeping a leading U+FEFF as utf8Decode does (TextDecoder drops it by default). */
const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** `s` as UTF-8 sees it: each lone surrogate becomes U+FFFD (what utf8.ts documents, and TextEncoder does). */
const wellFormed = (s: string) => UTF8.decode(new TextEncoder().encode(s));

describe("autokey XOR and UTF-8 (fuzzed)", { timeout: fuzzTimeout() }, () => {
  it("encrypt follows PROTOCOL §1.1 byte by byte, and decrypt undoes it both ways", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const c = encrypt(bytes.slice());
        for (let i = 0; i < bytes.length; i++) expect(c[i]).toBe(bytes[i] ^ (i === 0 ? INITIAL_KEY : c[i - 1]));
        expect([...decrypt(c.slice())]).toEqual([...bytes]);
        expect([...encrypt(decrypt(bytes.slice()))]).toEqual([...bytes]);
      }),
      fuzzed(1000),
    );
  });

  it("UTF-8 length, bytes and text agree with TextEncoder/TextDecoder for any string, lone surrogates included", () => {
    fc.assert(
      fc.property(anyStringArb, (s) => {
        const bytes = new TextEncoder().encode(s);
        expect(utf8Length(s)).toBe(bytes.length);
        expect([...utf8Encode(s)]).toEqual([...bytes]);
        expect(utf8Decode(utf8Encode(s))).toBe(wellFormed(s));
        if (s === wellFormed(s)) expect(utf8Decode(utf8Encode(s))).toBe(s);
      }),
      fuzzed(2000),
    );
  });

  it("an answer frame and datagram holding any string decode back to it (lone surrogates escaped), with the length in bytes", () => {
    fc.assert(
      fc.property(anyStringArb, fc.integer({ min: 1, max: 40 }), (s, size) => {
        const tree = { alias: s };
        const frame = answerFrame(tree, size);
        expect(new DataView(frame.buffer).getUint32(0)).toBe(frame.length - HEADER_BYTES);
        expect(frame.length - HEADER_BYTES).toBe(utf8Length(JSON.stringify(tree)));
        const texts: string[] = [];
        expect(new FrameDecoder().feed(frame, (p) => texts.push(utf8Decode(p)))).toBe(true);
        expect(JSON.parse(texts[0]).alias).toBe(s);
        const out = new JsonOut(new Uint8Array(size));
        expect(JSON.parse(decodeDatagram(out.datagram(tree, out.measure(tree)))).alias).toBe(s);
      }),
      fuzzed(1000),
    );
  });

  it("random bytes decode as the WHATWG decoder does (U+FFFD, never a throw), at any offset", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        expect(utf8Decode(bytes)).toBe(UTF8.decode(bytes));
        const [start, end] = [a % (bytes.length + 1), b % (bytes.length + 1)].sort((x, y) => x - y);
        expect(utf8Decode(bytes, start, end)).toBe(UTF8.decode(bytes.subarray(start, end)));
      }),
      fuzzed(2000),
    );
  });

  it("decodeDatagram on random bytes never throws and leaves the caller's buffer alone", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        const copy = bytes.slice();
        expect(decodeDatagram(bytes)).toBe(UTF8.decode(decrypt(bytes.slice())));
        expect([...bytes]).toEqual([...copy]);
      }),
      fuzzed(1000),
    );
  });
});
