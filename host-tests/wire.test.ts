import { describe, expect, it, vi } from "vitest";
import { decrypt } from "../src/core/protocol/wire/xor.js";
import { decodeDatagram, FrameDecoder, MAX_FRAME_BYTES } from "../src/core/protocol/wire/frame.js";
import { JsonOut } from "../src/core/protocol/wire/json-out.js";
import { utf8Decode, utf8Encode, utf8Length } from "../src/core/protocol/wire/utf8.js";
import { answerFrame, encodeDatagram, encodeFrame, encrypt } from "./support/wire.js";

const fromHex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// Captured frames (PROTOCOL §1.1): relay on, relay off, and a real plug's answer.
const RELAY_ON = "0000002AD0F281F88BFF9AF7D5EF94B6C5A0D48BF99CF091E8B7C4B0D1A5C0E2D8A381F286E793F6D4EEDFA2DFA2";
const RELAY_OFF = "0000002AD0F281F88BFF9AF7D5EF94B6C5A0D48BF99CF091E8B7C4B0D1A5C0E2D8A381F286E793F6D4EEDEA3DEA3";
const ANSWER = "0000002dd0f281f88bff9af7d5ef94b6c5a0d48bf99cf091e8b7c4b0d1a5c0e2d8a381e496e4bbd8b7d3b694ae9ee39ee3";

function frames(stream: Uint8Array[], max = MAX_FRAME_BYTES): { texts: string[]; ok: boolean } {
  const d = new FrameDecoder(max);
  const texts: string[] = [];
  let ok = true;
  for (const chunk of stream) ok = d.feed(chunk, (p) => texts.push(utf8Decode(p))) && ok;
  return { texts, ok };
}

describe("autokey XOR cipher", () => {
  it("decrypts the captured relay frames", () => {
    expect(frames([fromHex(RELAY_ON)]).texts).toEqual(['{"system":{"set_relay_state":{"state":1}}}']);
    expect(frames([fromHex(RELAY_OFF)]).texts).toEqual(['{"system":{"set_relay_state":{"state":0}}}']);
  });

  it("re-encrypts plaintext to the captured frames byte for byte; the plug writes the captured answer", () => {
    expect(toHex(encodeFrame('{"system":{"set_relay_state":{"state":1}}}'))).toBe(RELAY_ON.toLowerCase());
    for (const size of [1, 5, 256]) expect(toHex(answerFrame({ system: { set_relay_state: { err_code: 0 } } }, size))).toBe(ANSWER);
  });

  it("counts bytes, not characters, for multi-byte UTF-8 (python-kasa's snowman vector)", () => {
    const frame = encodeFrame("{'snowman': '\u2603'}");
    expect(toHex(frame)).toBe("00000012" + "d0f784ea85f29ffe90b78dad8a68f0735429");
  });

  it("matches the discovery datagrams without a header", () => {
    expect(toHex(encodeDatagram('{"system":{"get_sysinfo":{}}}'))).toBe("d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6");
    const out = new JsonOut(new Uint8Array(1));
    const request = { system: { get_sysinfo: {} } };
    expect(toHex(out.datagram(request, out.measure(request)))).toBe("d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6");
    expect(decodeDatagram(fromHex("d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf09eeb87eb96eb"))).toBe('{"system":{"get_sysinfo":null}}');
  });

  it("round-trips any bytes", () => {
    for (let n = 0; n < 200; n++) {
      const bytes = Uint8Array.from({ length: n * 7 }, () => Math.floor(Math.random() * 256));
      expect(decrypt(encrypt(bytes.slice()))).toEqual(bytes);
    }
  });
});

describe("UTF-8", () => {
  it("agrees with TextEncoder/TextDecoder on text with 1- to 4-byte characters", () => {
    for (const s of ["", "plain", "Küche", "客厅灯", "🔌 plug 😀", "a\u0000b", "x".repeat(5000) + "é"]) {
      expect(utf8Encode(s)).toEqual(new TextEncoder().encode(s));
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
      expect(utf8Decode(new TextEncoder().encode(s))).toBe(s);
    }
  });

  it("decodes malformed bytes to U+FFFD instead of failing", () => {
    const bad = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x41], [0xf0, 0x9f, 0x98]];
    for (const b of bad) {
      expect(utf8Decode(Uint8Array.from(b))).toBe(new TextDecoder().decode(Uint8Array.from(b)));
    }
    for (let n = 0; n < 2000; n++) {
      const random = Uint8Array.from({ length: 1 + (n % 40) }, () => Math.floor(Math.random() * 256));
      // ignoreBOM: TextDecoder drops a leading EF BB BF by default; utf8Decode keeps it as U+FEFF
      expect(utf8Decode(random)).toBe(new TextDecoder("utf-8", { ignoreBOM: true }).decode(random));
    }
  });

  it("encodes lone surrogates as U+FFFD", () => {
    expect(utf8Encode("a\ud800b")).toEqual(new TextEncoder().encode("a\ufffdb"));
  });

  it("hands only valid UTF-8 to XS's native String.fromArrayBuffer, with the right offset and length", async () => {
    // Node has no String.fromArrayBuffer: stand in for XS's, which throws on bad continuation bits
    // and takes overlong forms and surrogates as they are. The module reads it once when loaded.
    const calls: number[] = [];
    const native = (buffer: ArrayBuffer, offset: number, length: number) => {
      calls.push(length);
      const bytes = new Uint8Array(buffer, offset, length);
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    };
    const host = String as unknown as { fromArrayBuffer?: typeof native };
    host.fromArrayBuffer = native;
    try {
      vi.resetModules();
      const xs = await import("../src/core/protocol/wire/utf8.js");
      const cases = ["", "plain", "Küche 🔌", "客厅灯", "a\u0000b", "x".repeat(3000) + "é"].map((t) => new TextEncoder().encode(t));
      const bad = [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x41, 0xe2, 0x82], [0xff]].map((b) => Uint8Array.from(b));
      for (const b of [...cases, ...bad]) {
        // inside a bigger buffer, at an offset, as the frame decoder hands plaintext over
        const outer = new Uint8Array(b.length + 7);
        outer.set(b, 3);
        const inner = outer.subarray(2, 3 + b.length + 1);
        expect(xs.utf8Decode(inner, 1, 1 + b.length)).toBe(new TextDecoder().decode(b));
      }
      // every valid input went the native way; no invalid one did
      expect(calls).toEqual(cases.map((b) => b.length));
      for (let n = 0; n < 500; n++) {
        const random = Uint8Array.from({ length: 1 + (n % 40) }, () => Math.floor(Math.random() * 256));
        expect(xs.utf8Decode(random)).toBe(new TextDecoder("utf-8", { ignoreBOM: true }).decode(random));
      }
    } finally {
      delete host.fromArrayBuffer;
      vi.resetModules();
    }
  });
});

describe("TCP frame decoder", () => {
  const stream = new Uint8Array([...fromHex(RELAY_ON), ...fromHex(RELAY_OFF), ...encodeFrame('{"a":"ü"}')]);
  const expected = ['{"system":{"set_relay_state":{"state":1}}}', '{"system":{"set_relay_state":{"state":0}}}', '{"a":"ü"}'];

  it("reads several frames from one segment", () => {
    expect(frames([stream]).texts).toEqual(expected);
  });

  it("reads frames split at every possible byte boundary", () => {
    for (let cut = 1; cut < stream.length; cut++) {
      expect(frames([stream.subarray(0, cut), stream.subarray(cut)]).texts).toEqual(expected);
    }
  });

  it("reads a stream fed one byte at a time", () => {
    expect(frames(Array.from(stream, (b) => Uint8Array.of(b))).texts).toEqual(expected);
  });

  it("accepts a frame of exactly the bound and refuses one byte more", () => {
    const body = "x".repeat(MAX_FRAME_BYTES);
    expect(frames([encodeFrame(body)]).texts).toEqual([body]);
    const over = frames([encodeFrame(body + "x")]);
    expect(over.ok).toBe(false);
    expect(over.texts).toEqual([]);
  });

  it("stays refused after an oversized header, whatever follows", () => {
    const d = new FrameDecoder(100);
    expect(d.feed(Uint8Array.of(0xff, 0xff, 0xff, 0xff), () => {})).toBe(false);
    expect(d.feed(encodeFrame("{}"), () => expect.unreachable())).toBe(false);
  });

  it("stops decoding where its caller says so: a burst of frames in one read is not decoded past it", () => {
    const d = new FrameDecoder(100);
    const burst = Buffer.concat(Array.from({ length: 64 }, () => encodeFrame('{"system":{"get_sysinfo":{}}}')));
    let seen = 0;
    expect(d.feed(burst, () => ++seen < 9)).toBe(true);
    expect(seen).toBe(9);
  });

  it("passes an empty frame on as empty text", () => {
    expect(frames([Uint8Array.of(0, 0, 0, 0)]).texts).toEqual([""]);
  });
});
