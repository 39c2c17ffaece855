// The streamed answer writer (src/core/protocol/wire/json-out.ts) against what the plug sent before it:
// JSON.stringify's text, UTF-8 encoded and encrypted as one frame or datagram. Random JSON-like trees
// (Members among them, stringified as the objects of the same members), every buffer size from 1
// byte (so that the autokey runs across every split point), both ways of reading strings (charCodeAt
// where strings are UTF-16; their bytes as XS keeps them).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonOut, MAX_JSON_DEPTH, Members, type JsonWritable } from "../src/core/protocol/wire/json-out.js";
import { utf8Encode } from "../src/core/protocol/wire/utf8.js";
import { fuzzed, fuzzTimeout } from "./support/fuzz.js";
import { answerFrame, encodeDatagram, encodeFrame } from "./support/wire.js";

/** Strings with what JSON.stringify escapes or encodes specially: controls, quotes, lone surrogates, astral characters. */
const stringArb = fc.string({
  maxLength: 24,
  unit: fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)) },
    { weight: 2, arbitrary: fc.constantFrom('"', "\\", "/", "\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "\u2028", "\ufeff", "한") },
    { weight: 2, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
    { weight: 2, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
  ),
});

const numberArb = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(0, -0, 1e21, 1e-7, 123e-20, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, Number.MAX_VALUE, NaN, Infinity, -Infinity, 0.1, 1 / 3, 4.35, 100, 999999999999999, 1000000000000000),
);

/** Objects (plain and null-prototype, members JSON.stringify leaves out included) and arrays, nested. */
const treeArb = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    stringArb,
    numberArb,
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.oneof(tie("tree"), fc.constantFrom(undefined, () => 1, Symbol("s"))), { maxLength: 5 }),
    fc
      .tuple(fc.array(fc.tuple(fc.oneof(stringArb, fc.constantFrom("0", "12", "__proto__", "writeJson")), fc.oneof({ weight: 5, arbitrary: tie("tree") }, fc.constantFrom(undefined, () => 1))), { maxLength: 5 }), fc.boolean())
      .map(([entries, bare]) => {
        const o: { [key: string]: unknown } = bare ? Object.create(null) : {};
        // (a function member named writeJson makes a value that writes itself: not a plain object)
        for (const [k, v] of entries) if (!(k === "writeJson" && typeof v === "function")) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        return o;
      }),
    // distinct names that are no array index: the object of the same members keeps their order
    fc
      .uniqueArray(fc.tuple(stringArb.filter((k) => String(Number(k) >>> 0) !== k), fc.oneof({ weight: 5, arbitrary: tie("tree") }, fc.constantFrom(undefined, () => 1))), { maxLength: 5, selector: ([k]) => k })
      .map((entries) => {
        const m = new Members();
        for (const [k, v] of entries) {
          m.names.push(k);
          m.values.push(v);
        }
        return m;
      }),
  ),
})).tree;

/** Members as the object of the same members, for JSON.stringify. */
function asObject(_key: string, value: unknown): unknown {
  if (!(value instanceof Members)) return value;
  const o: { [key: string]: unknown } = Object.create(null);
  value.names.forEach((k, i) => Object.defineProperty(o, k, { value: value.values[i], enumerable: true }));
  return o;
}

/** What the plug sent before: the whole text (JSON.stringify's), then the whole frame. */
const text = (tree: unknown) => JSON.stringify(tree, asObject);
const before = (tree: unknown) => encodeFrame(text(tree));

describe("streamed JSON answers (fuzzed against JSON.stringify)", { timeout: fuzzTimeout() }, () => {
  it("a frame is byte for byte JSON.stringify's text, encrypted, through a buffer of any size, both string paths", () => {
    fc.assert(
      fc.property(treeArb, fc.integer({ min: 1, max: 96 }), fc.boolean(), (tree, size, indexed) => {
        expect(Buffer.from(answerFrame(tree, size, indexed)).toString("hex")).toBe(Buffer.from(before(tree)).toString("hex"));
      }),
      fuzzed(3000),
    );
  });

  it("a datagram is the same body without the header, in one array of exactly its size", () => {
    fc.assert(
      fc.property(treeArb, fc.boolean(), (tree, indexed) => {
        const out = new JsonOut(new Uint8Array(8), indexed);
        const d = out.datagram(tree, out.measure(tree));
        expect(d.buffer.byteLength).toBe(d.length);
        expect([...d]).toEqual([...encodeDatagram(text(tree))]);
      }),
      fuzzed(1500),
    );
  });

  it("splits every answer at every point: each buffer size from 1 to past the whole frame, the buffer reused", () => {
    const tree = { system: { get_sysinfo: { alias: 'Küche "🔌"\n', a: [1, -0, 4.5, null, true], b: "\ud800x", err_code: 0 } }, x: {} };
    const whole = before(tree);
    for (const indexed of [true, false]) {
      for (let size = 1; size <= whole.length + 2; size++) {
        const chunk = new Uint8Array(size);
        const out = new JsonOut(chunk, indexed);
        const pieces: Uint8Array[] = [];
        out.frame(tree, out.measure(tree), {
          write: (bytes) => {
            expect(bytes.buffer).toBe(chunk.buffer); // no copy made for the socket
            pieces.push(bytes.slice());
          },
        });
        expect(pieces.slice(0, -1).every((p) => p.length === size)).toBe(true);
        expect(pieces.at(-1)!.length).toBe((whole.length - 1) % size + 1);
        expect([...Buffer.concat(pieces)]).toEqual([...whole]);
      }
    }
  });

  it("writes a frame in parts, each from a pass of its own: the parts joined are the whole frame, every split point", () => {
    const tree = { system: { get_sysinfo: { alias: 'Küche "🔌"\n', a: [1, -0, 4.5, null, true], err_code: 0 } }, rules: ["x".repeat(40), "ü"] };
    const whole = before(tree);
    for (const bufferSize of [1, 7, 256]) {
      const out = new JsonOut(new Uint8Array(bufferSize), false);
      const size = out.measure(tree);
      for (let part = 1; part <= whole.length; part += bufferSize === 7 ? 1 : 5) {
        const parts: Uint8Array[] = [];
        for (let from = 0; from < whole.length; from += part) {
          const piece: Uint8Array[] = [];
          out.frame(tree, size, { write: (bytes) => piece.push(bytes.slice()) }, from, from + part);
          const joined = Buffer.concat(piece);
          expect(joined.length).toBe(Math.min(part, whole.length - from)); // that part and nothing else
          parts.push(joined);
        }
        expect([...Buffer.concat(parts)]).toEqual([...whole]);
      }
    }
  });

  it("writes a string's bytes as XS keeps them: a pair made of two halves, a lone surrogate, U+D000-U+D7FF", () => {
    // XS keeps the halves of a pair joined by concatenation as two 3-byte sequences (CESU-8 style)
    const cases: [Uint8Array, string][] = [
      [Uint8Array.of(0xed, 0xa0, 0xbd, 0xed, 0xb4, 0x8c), "\u{1F50C}"],
      [Uint8Array.of(0x61, 0xed, 0xb0, 0x80, 0x62), "a\udc00b"],
      [Uint8Array.of(0xed, 0xa0, 0xbd, 0x21), "\ud83d!"],
      [utf8Encode("\ud7a3\u0000"), "\ud7a3\u0000"], // ED 9E A3 is not a surrogate
    ];
    for (const [bytes, text] of cases) {
      const writable = { writeJson: (o: JsonOut) => o.stringBytes(bytes, 0, bytes.length) };
      expect([...answerFrame(writable, 3)]).toEqual([...before(text)]);
    }
  });
});

/** A toy streamed value: n rules packed as name bytes, written without building an object per rule. */
class PackedRules implements JsonWritable {
  constructor(private readonly names: Uint8Array[]) {}
  writeJson(out: JsonOut): void {
    out.byte(0x5b);
    for (let i = 0; i < this.names.length; i++) {
      if (i > 0) out.byte(0x2c);
      out.bytes(utf8Encode('{"name":'), 0, 8);
      out.stringBytes(this.names[i], 0, this.names[i].length);
      out.bytes(utf8Encode(',"smin":'), 0, 8);
      out.number(60 * i);
      out.byte(0x2c);
      out.string("enable");
      out.byte(0x3a);
      out.value([i % 2, { on: i % 2 === 1 }]);
      out.byte(0x7d);
    }
    out.byte(0x5d);
  }
}

describe("Members", () => {
  it("are written in the order of their lists, names as they are: array indices, repeated names, escapes", () => {
    const m = new Members();
    const inner = new Members();
    inner.names.push("get_sysinfo ", "__proto__");
    inner.values.push({ err_code: -2 }, [undefined]);
    m.names.push("system", "10", "2", "2", 'a"\\\n\ud800🔌', "skipped", "x");
    m.values.push(inner, 1, 2, 3, "v", undefined, null);
    const expected = '{"system":{"get_sysinfo ":{"err_code":-2},"__proto__":[null]},"10":1,"2":2,"2":3,"a\\"\\\\\\n\\ud800🔌":"v","x":null}';
    for (const indexed of [true, false]) for (const size of [1, 5, 256]) expect([...answerFrame(m, size, indexed)]).toEqual([...encodeFrame(expected)]);
    expect([...answerFrame(new Members(), 4)]).toEqual([...encodeFrame("{}")]);
  });
});

describe("values that write themselves", () => {
  it("write in place, as JSON.stringify writes the objects they stand for", () => {
    const names = ["morning", "Küche 🔌", 'say "hi"\n'];
    const tree = { schedule: { get_rules: { rule_list: new PackedRules(names.map(utf8Encode)), enable: 1, err_code: 0 } } };
    const plain = { schedule: { get_rules: { rule_list: names.map((name, i) => ({ name, smin: 60 * i, enable: [i % 2, { on: i % 2 === 1 }] })), enable: 1, err_code: 0 } } };
    for (const size of [1, 7, 256]) expect([...answerFrame(tree, size)]).toEqual([...before(plain)]);
  });

  it("write thousandths with 6 decimals as C's %f does (HS110 v1 emeter values), in both passes and every buffer size", () => {
    const cases: Array<[number, string]> = [[0, "0.000000"], [1, "0.001000"], [60_000, "60.000000"], [231_067, "231.067000"], [999, "0.999000"], [1_000, "1.000000"], [1_172, "1.172000"], [-25, "-0.025000"], [999_999_999_999, "999999999.999000"]];
    const tree = cases.map(([n]) => ({ writeJson: (out: JsonOut) => out.thousandths(n) }));
    const expected = `[${cases.map(([, t]) => t).join(",")}]`;
    for (const size of [1, 5, 256]) expect([...answerFrame(tree, size)]).toEqual([...encodeFrame(expected)]);
    for (const indexed of [true, false]) {
      const out = new JsonOut(new Uint8Array(3), indexed);
      expect(out.measure(tree)).toBe(expected.length);
    }
    // a value that is not a whole number of thousandths is written as the number it stands for
    expect([...answerFrame([{ writeJson: (out: JsonOut) => out.thousandths(1.5) }], 256)]).toEqual([...encodeFrame("[0.0015]")]);
    // other units: ten-thousandths (a v1 location) and hundred-thousandths
    const other: Array<[number, number, string]> = [[100_000, 10_000, "10.000000"], [-338_688, 10_000, "-33.868800"], [5, 10_000, "0.000500"], [1_234_567, 100_000, "12.345670"]];
    expect([...answerFrame(other.map(([n, per]) => ({ writeJson: (out: JsonOut) => out.thousandths(n, per) })), 256)]).toEqual([...encodeFrame(`[${other.map(([, , t]) => t).join(",")}]`)]);
  });

  it("must write the same bytes in both passes: a frame that differs from its size pass throws", () => {
    let calls = 0;
    const fickle = { writeJson: (out: JsonOut) => out.number(calls++ === 0 ? 1 : 100) };
    const out = new JsonOut(new Uint8Array(256));
    expect(() => out.frame([fickle], out.measure([fickle]), { write() {} })).toThrow(/size pass/);
    calls = 0;
    expect(() => out.datagram([fickle], out.measure([fickle]))).toThrow(/size pass/);
    // and the writer serves the next answer as usual
    expect([...answerFrame({ a: 1 }, 256)]).toEqual([...before({ a: 1 })]);
  });

  it(`stops at ${MAX_JSON_DEPTH} levels of nesting instead of running out of stack (a cycle)`, () => {
    const cycle: { [key: string]: unknown } = {};
    cycle.self = cycle;
    const out = new JsonOut(new Uint8Array(16));
    expect(() => out.measure(cycle)).toThrow(RangeError);
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep];
    expect([...answerFrame(deep, 16)]).toEqual([...before(deep)]);
    expect(() => out.measure([deep])).toThrow(RangeError);
  });
});
