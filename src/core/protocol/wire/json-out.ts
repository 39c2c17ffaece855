// Answers as JSON text streamed into the socket, never built whole (one whole string and one whole
// frame were the two biggest allocations of a request, /work/shared/moddable/HEAP.md). An answer is a
// tree of plain values (objects, null-prototype ones included, arrays, strings, numbers, booleans,
// null), objects given as lists of names and values (Members) and values that write themselves
// (JsonWritable). It is walked twice: a size pass counts its UTF-8 bytes, because a TCP frame starts
// with its length (frame.ts), then a write pass encrypts it (autokey XOR, the key running across
// pieces) into one small buffer that goes to the socket each time it fills and once at the end. A
// UDP answer is one datagram: the write pass fills one array of exactly the size counted.
//
// The text is byte for byte what JSON.stringify gives for the same tree (Members as the object of
// their members in their order): members in Object.keys order, undefined, function and symbol
// members left out of objects and written null in arrays, numbers as the engine's own
// Number-to-String (non-finite ones null), strings escaped as JSON.stringify escapes them (\" \\ \b
// \f \n \r \t, other control characters \u00xx, lone surrogates \udxxx, everything else as UTF-8).
// Not supported, because answers have none: toJSON, boxed primitives, BigInt (throws), cycles (the
// depth bound throws).

import { HEADER_BYTES } from "./frame.js";
import { INDEXED, utf8Length, utf8Write } from "./utf8.js";
import { INITIAL_KEY } from "./xor.js";

/** Where full buffers go (a StreamSocket is one). `bytes` is only valid during the call: it is reused. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

/**
 * A value in an answer tree that writes its own JSON through `out` (its `value`, `string`,
 * `number`, `byte`, `stringBytes` and `bytes`), e.g. a rule list read straight from packed records
 * instead of copied into objects first. `writeJson` is called once for the size pass and once for
 * the write pass of the same answer, with nothing in between: it must write exactly the same bytes
 * both times (a frame whose body differs from its size pass is not sent: the write pass throws).
 */
export interface JsonWritable {
  writeJson(out: JsonOut): void;
}

/**
 * An object as two lists: its members' names, and their values at the same places. Written as an
 * object is, in the order of the lists, leaving out the members JSON.stringify leaves out. For names
 * a client sent (the dispatcher echoes unknown module and method names): in XS, a string used as a
 * property name becomes a key, which a device never frees (dispatcher.ts), so such a name must stay
 * a string, never become an object's property.
 */
export class Members {
  readonly names: string[] = [];
  readonly values: unknown[] = [];
}

/** Nesting beyond this throws: answers are about 6 levels deep; a cycle must not grow without end. */
export const MAX_JSON_DEPTH = 16;

/**
 * Writes `,"name":` (a member after the first) for a JsonWritable that writes its object member by
 * member: a module-level function, one call as each writer's own copy was (rules, energy).
 */
export function member(out: JsonOut, name: string): void {
  out.byte(0x2c);
  out.string(name);
  out.byte(0x3a);
}

/** What `advance` returns when nothing is left to write. */
const DONE: object = Object.freeze({});
/** Thrown by `flush` once a part of a frame is written (see `frame`), caught there. */
const PART_WRITTEN: object = Object.freeze({});

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

type FromString = (text: string) => ArrayBuffer;
/**
 * XS's ArrayBuffer.fromString (an XS extension in every Moddable build; not in CESU-8 builds such as
 * xsnap, nor elsewhere): a string's bytes as XS keeps them, natively, in one small buffer. XS keeps
 * strings as UTF-8, except that a lone surrogate is its own 3-byte sequence and a pair made by
 * concatenating its halves stays two such sequences (xsAll.c fxConcatString copies bytes); the
 * bytes path below handles both. U+0000, kept as C0 80 inside XS, comes out as 00.
 */
const HAS_FROM_STRING = typeof (ArrayBuffer as unknown as { fromString?: FromString }).fromString === "function";

/**
 * A string's bytes as XS keeps them (see HAS_FROM_STRING): natively where XS can, else through
 * for...of (code points: a lone surrogate is one, written as its 3 bytes). Of the ways to read a
 * string on XS without indexing it, the native bytes are the one that allocates once per string
 * rather than once per character (XS's string iterator makes a new string for each; JSON.stringify
 * first would add one more), and the fastest: xsnap, the 39 strings of a sysinfo answer, 171 us with
 * native bytes and a byte loop, 208 us for...of escaping as it goes, 206 us JSON.stringify then for...of.
 */
function stringBytesOf(text: string): Uint8Array {
  if (HAS_FROM_STRING) return new Uint8Array((ArrayBuffer as unknown as { fromString: FromString }).fromString(text));
  const out = new Uint8Array(utf8Length(text)); // a lone surrogate counts 3 bytes there too
  utf8Write(text, out, 0, true);
  return out;
}

/** The letter of a short JSON escape (\b \t \n \f \r \" \\), or 0. */
function shortEscape(c: number): number {
  return c === 0x08 ? 0x62 : c === 0x09 ? 0x74 : c === 0x0a ? 0x6e : c === 0x0c ? 0x66 : c === 0x0d ? 0x72 : c === QUOTE || c === BACKSLASH ? c : 0;
}

/**
 * Writes answers as JSON: one per server, holding the one buffer its TCP answers pass through. One
 * pass at a time (every pass is synchronous; values that write themselves call back into it within
 * their pass). Nothing of an answer is kept after its pass.
 */
export class JsonOut {
  private buf: Uint8Array;
  private fill = 0;
  private key = INITIAL_KEY;
  /** Body bytes counted (size pass) or written (write pass) so far. */
  private count = 0;
  private sizing = true;
  private sink: ByteSink | null = null;
  /** The write pass of a frame: the frame bytes before the buffer's first one, and the part of the frame that goes to the sink. */
  private at = 0;
  private from = 0;
  private to = 0;
  private total = 0;
  /**
   * The arrays and objects being written, innermost last, 4 entries each: the container, its keys
   * (null for an array), the index of the next element or key, and whether a member was written. For
   * Members the container is its values and the keys its names: an array with keys.
   */
  private readonly open: unknown[] = [];
  /** Values writing themselves, nested (each may open containers of its own). */
  private depth = 0;

  /**
   * @param chunk the buffer TCP answers are encrypted into, written out each time it fills (any size from 1)
   * @param indexed strings are read with charCodeAt (engines with UTF-16 strings, utf8.ts INDEXED)
   *   rather than as their bytes; false exercises the XS path elsewhere (tests)
   */
  constructor(
    private readonly chunk: Uint8Array,
    private readonly indexed: boolean = INDEXED,
  ) {
    this.buf = chunk;
  }

  /** The size pass: the UTF-8 bytes of `value`'s JSON text. */
  measure(value: unknown): number {
    this.begin(this.chunk, null, true);
    this.value(value);
    return this.count;
  }

  /**
   * The write pass of a TCP frame: the length header (`size`, from `measure`), then the body
   * encrypted, through the buffer into `sink`. Throws when the body is not `size` bytes long.
   *
   * Only frame bytes [from, to) go to the sink: a socket with less room than the answer takes it in
   * parts, each written by a pass of its own over the same tree (the passes before `from` are
   * encrypted and dropped: the autokey runs from the frame's start), so that no part of an answer
   * waits in memory for the client; a pass stops once its part is out.
   */
  frame(value: unknown, size: number, sink: ByteSink, from = 0, to = HEADER_BYTES + size): void {
    this.begin(this.chunk, sink, false);
    this.at = 0;
    this.from = from;
    this.total = HEADER_BYTES + size;
    this.to = Math.min(to, this.total);
    try {
      for (let shift = (HEADER_BYTES - 1) * 8; shift >= 0; shift -= 8) {
        if (this.fill === this.buf.length) this.flush();
        this.buf[this.fill++] = (size >>> shift) & 0xff; // the header is not encrypted
      }
      this.value(value);
      this.finish(size);
      if (this.fill > 0) this.flush();
    } catch (e) {
      if (e !== PART_WRITTEN) throw e;
    } finally {
      this.sink = null;
      this.open.length = 0; // (a pass that threw left its containers there)
    }
  }

  /**
   * A write pass of the body alone (no header), encrypted as a frame's is, through the buffer into
   * `sink`: KLAP's sealer undoes the autokey as it encrypts (klap-server.ts). Throws when the body is
   * not `size` bytes long; whatever the sink throws goes through, the pass left clean.
   */
  stream(value: unknown, size: number, sink: ByteSink): void {
    this.begin(this.chunk, sink, false);
    this.at = 0;
    this.from = 0;
    this.to = this.total = size;
    try {
      this.value(value);
      this.finish(size);
      if (this.fill > 0) this.flush();
    } finally {
      this.sink = null;
      this.open.length = 0;
    }
  }

  /**
   * The write pass of a UDP answer: the body encrypted into a new array of exactly `size` bytes (or
   * into `out`, of exactly that length: a view into a larger buffer).
   */
  datagram(value: unknown, size: number, out: Uint8Array = new Uint8Array(size)): Uint8Array {
    this.begin(out, null, false);
    try {
      this.value(value);
      this.finish(size);
    } finally {
      this.buf = this.chunk;
      this.open.length = 0;
    }
    return out;
  }

  /**
   * Writes any value of the tree. Iterative, not recursive: the containers being written are kept on
   * `open` (4 entries a level, in the heap), so the XS stack this takes does not grow with the
   * nesting. Measured in xsnap (XS 13.3) by how much of a fixed recursion still fits: writing any
   * answer (python-kasa's update, a rule list) takes about 120 stack slots at its deepest (a key
   * escaped: value, advance, string, stringBytes, escape, byte), as much as dispatching the update
   * and about half of what dispatching an add_rule takes (about 210 of the ESP8266's 256), so it
   * does not raise the serving peak. Recursing took about 14 slots a level, 165 for a rule list.
   */
  value(v: unknown): void {
    const base = this.open.length;
    for (;;) {
      if (typeof v === "string") this.string(v);
      else if (typeof v === "object" && v !== null) this.enter(v);
      else this.scalar(v);
      if (this.open.length === base) return;
      v = this.advance(base);
      if (v === DONE) return;
    }
  }

  /** Writes `s` as a JSON string. */
  string(s: string): void {
    if (this.indexed) this.units(s);
    else {
      const bytes = stringBytesOf(s);
      this.stringBytes(bytes, 0, bytes.length);
    }
  }

  /** Writes `n` as JSON.stringify does: safe integers digit by digit (no string made), others through String(n). */
  number(n: number): void {
    if (!isFinite(n)) return this.word(0x6e, 0x75, 0x6c, 0x6c);
    if (n !== Math.floor(n) || n > Number.MAX_SAFE_INTEGER || n < -Number.MAX_SAFE_INTEGER) return this.text(String(n));
    if (n < 0) {
      this.byte(0x2d);
      n = -n;
    }
    let p = 1;
    while (p * 10 <= n) p *= 10;
    // exact: n % p is, and so is a multiple of p divided by p (below 2^53)
    for (; p >= 1; p /= 10) {
      const rest = n % p;
      this.byte(0x30 + (n - rest) / p);
      n = rest;
    }
  }

  /**
   * Writes the integer `n` thousandths (or 1/`per` units: 1000, 10000 or 100000) as a number with
   * exactly 6 decimals, the way C's `%f` prints it (1500 -> 1.500000, 0 -> 0.000000, -25 -> -0.025000):
   * what HS110 v1 firmware writes for its emeter values (PROTOCOL §2.8) and its location (§3). Digit
   * by digit, no string made. Not an integer: written as `number`.
   */
  thousandths(n: number, per = 1000): void {
    if (n !== Math.floor(n) || n > Number.MAX_SAFE_INTEGER || n < -Number.MAX_SAFE_INTEGER) return this.number(n / per);
    if (n < 0) {
      this.byte(0x2d);
      n = -n;
    }
    const fraction = n % per;
    this.number((n - fraction) / per);
    this.byte(0x2e);
    // the fraction's digits, most significant first, then zeros to 6
    let digits = 0;
    for (let p = per / 10; p >= 1; p /= 10) {
      this.byte(0x30 + (Math.floor(fraction / p) % 10));
      digits++;
    }
    for (; digits < 6; digits++) this.byte(0x30);
  }

  /** Writes one byte of JSON text as it is (ASCII: punctuation, digits). */
  byte(b: number): void {
    this.count++;
    if (this.sizing) return;
    if (this.fill === this.buf.length) this.flush();
    this.buf[this.fill++] = this.key ^= b;
  }

  /**
   * Writes src[start, end), UTF-8 text, as a JSON string: escaped as JSON.stringify escapes the
   * string it decodes to. Also takes a string's bytes as XS keeps them (see HAS_FROM_STRING).
   */
  stringBytes(src: Uint8Array, start: number, end: number): void {
    this.byte(QUOTE);
    let run = start;
    for (let i = start; i < end; i++) {
      const b = src[i];
      if (b >= 0x20 && b !== QUOTE && b !== BACKSLASH && b !== 0xed) continue;
      // ED A0-BF xx: a surrogate (ED 80-9F is U+D000-U+D7FF, written as it is)
      if (b === 0xed && (i + 2 >= end || src[i + 1] < 0xa0)) continue;
      this.bytes(src, run, i);
      if (b !== 0xed) this.escape(b);
      else {
        const unit = 0xd000 | ((src[i + 1] & 0x3f) << 6) | (src[i + 2] & 0x3f);
        if (unit < 0xdc00 && i + 5 < end && src[i + 3] === 0xed && src[i + 4] >= 0xb0) {
          this.codePoint(0x10000 + ((unit & 0x3ff) << 10) + (((src[i + 4] & 0x0f) << 6) | (src[i + 5] & 0x3f)));
          i += 5;
        } else {
          this.escape(unit);
          i += 2;
        }
      }
      run = i + 1;
    }
    this.bytes(src, run, end);
    this.byte(QUOTE);
  }

  /** Writes src[start, end) as it is: JSON text the caller vouches for. */
  bytes(src: Uint8Array, start: number, end: number): void {
    this.count += end - start;
    if (this.sizing) return;
    const buf = this.buf;
    let fill = this.fill;
    let key = this.key;
    for (let i = start; i < end; i++) {
      if (fill === buf.length) {
        this.fill = fill;
        this.flush();
        fill = 0;
      }
      buf[fill++] = key ^= src[i];
    }
    this.fill = fill;
    this.key = key;
  }

  /** A number, boolean, null, or what JSON.stringify writes null for in an array (undefined, a function, a symbol). */
  private scalar(v: unknown): void {
    if (typeof v === "number") this.number(v);
    else if (typeof v === "boolean") v ? this.word(0x74, 0x72, 0x75, 0x65) : this.word(0x66, 0x61, 0x6c, 0x73, 0x65);
    else if (typeof v === "bigint") throw new TypeError("BigInt in an answer");
    else this.word(0x6e, 0x75, 0x6c, 0x6c);
  }

  /** Opens an array or object (written by `advance`), or lets a value write itself. */
  private enter(v: object): void {
    if ((this.open.length >> 2) + this.depth >= MAX_JSON_DEPTH) throw new RangeError(`answer nested over ${MAX_JSON_DEPTH} levels`);
    if (typeof (v as JsonWritable).writeJson === "function") {
      this.depth++;
      (v as JsonWritable).writeJson(this); // its own value() calls work above what is open here
      this.depth--;
    } else if (Array.isArray(v)) {
      this.byte(0x5b);
      this.open.push(v, null, 0, false);
    } else if (v instanceof Members) {
      this.byte(0x7b);
      this.open.push(v.values, v.names, 0, false);
    } else {
      this.byte(0x7b);
      this.open.push(v, Object.keys(v), 0, false);
    }
  }

  /**
   * Moves to the next value to write: the next element of the innermost open array, or the next
   * member of the innermost open object (its comma, key and colon written), closing the containers
   * that are done. DONE once every container opened above `base` is closed.
   */
  private advance(base: number): unknown {
    const open = this.open;
    while (open.length > base) {
      const n = open.length;
      const c = open[n - 4] as { [key: string]: unknown } & unknown[];
      const keys = open[n - 3] as string[] | null;
      let i = open[n - 2] as number;
      if (keys === null) {
        if (i < c.length) {
          if (i > 0) this.byte(0x2c);
          open[n - 2] = i + 1;
          return c[i]; // (undefined, a function or a symbol is written null)
        }
        this.byte(0x5d);
      } else {
        // an object's values are under its keys, Members' at its names' places (no local: the XS stack)
        while (i < keys.length && skipped(Array.isArray(c) ? c[i] : c[keys[i]])) i++;
        if (i < keys.length) {
          if (open[n - 1] === true) this.byte(0x2c);
          open[n - 1] = true;
          open[n - 2] = i + 1;
          this.string(keys[i]);
          this.byte(0x3a);
          return Array.isArray(c) ? c[i] : c[keys[i]];
        }
        this.byte(0x7d);
      }
      open.length = n - 4;
    }
    return DONE;
  }

  private begin(buf: Uint8Array, sink: ByteSink | null, sizing: boolean): void {
    this.buf = buf;
    this.sink = sink;
    this.sizing = sizing;
    this.fill = 0;
    this.key = INITIAL_KEY;
    this.count = 0;
    this.open.length = 0;
    this.depth = 0;
  }

  private finish(size: number): void {
    if (this.count !== size) throw new Error(`answer of ${this.count} bytes after a size pass of ${size}`);
  }

  private flush(): void {
    if (this.sink === null) throw new Error("answer longer than its size pass");
    const start = this.at;
    const end = start + this.fill;
    this.at = end;
    this.fill = 0;
    const a = this.from > start ? this.from - start : 0;
    const b = this.to < end ? this.to - start : end - start;
    if (a < b) this.sink.write(a === 0 && b === this.buf.length ? this.buf : this.buf.subarray(a, b));
    if (end >= this.to && this.to < this.total) throw PART_WRITTEN;
  }

  /** `s`, UTF-16 code units, as a JSON string (engines that index strings cheaply). */
  private units(s: string): void {
    this.byte(QUOTE);
    const n = s.length;
    let run = 0;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80 && c !== QUOTE && c !== BACKSLASH) continue;
      this.ascii(s, run, i);
      if (c < 0x80) this.escape(c);
      else if (c < 0xd800 || c > 0xdfff) this.codePoint(c);
      else {
        const d = c < 0xdc00 && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          this.codePoint(0x10000 + ((c & 0x3ff) << 10) + (d & 0x3ff));
          i++;
        } else this.escape(c);
      }
      run = i + 1;
    }
    this.ascii(s, run, n);
    this.byte(QUOTE);
  }

  /** s[start, end), all ASCII, as it is (engines that index strings cheaply). */
  private ascii(s: string, start: number, end: number): void {
    this.count += end - start;
    if (this.sizing) return;
    const buf = this.buf;
    let fill = this.fill;
    let key = this.key;
    for (let i = start; i < end; i++) {
      if (fill === buf.length) {
        this.fill = fill;
        this.flush();
        fill = 0;
      }
      buf[fill++] = key ^= s.charCodeAt(i);
    }
    this.fill = fill;
    this.key = key;
  }

  /** ASCII text as it is (a number's digits). */
  private text(s: string): void {
    if (this.indexed) this.ascii(s, 0, s.length);
    else {
      const bytes = stringBytesOf(s);
      this.bytes(bytes, 0, bytes.length);
    }
  }

  /** A JSON escape: short (\n) where there is one, else \u and 4 lowercase hex digits. */
  private escape(c: number): void {
    this.byte(BACKSLASH);
    const letter = shortEscape(c);
    if (letter !== 0) return this.byte(letter);
    this.byte(0x75);
    for (let shift = 12; shift >= 0; shift -= 4) {
      const d = (c >> shift) & 15;
      this.byte(d < 10 ? 0x30 + d : 0x57 + d);
    }
  }

  /** A code point from U+0080 up, as UTF-8. */
  private codePoint(c: number): void {
    if (c < 0x800) this.byte(0xc0 | (c >> 6));
    else {
      if (c < 0x10000) this.byte(0xe0 | (c >> 12));
      else {
        this.byte(0xf0 | (c >> 18));
        this.byte(0x80 | ((c >> 12) & 0x3f));
      }
      this.byte(0x80 | ((c >> 6) & 0x3f));
    }
    this.byte(0x80 | (c & 0x3f));
  }

  /** A keyword: null, true (4 letters) or false (5). */
  private word(a: number, b: number, c: number, d: number, e?: number): void {
    this.byte(a);
    this.byte(b);
    this.byte(c);
    this.byte(d);
    if (e !== undefined) this.byte(e);
  }
}

/** A member JSON.stringify leaves out of an object (and writes null for in an array). */
function skipped(v: unknown): boolean {
  return v === undefined || typeof v === "function" || typeof v === "symbol";
}
