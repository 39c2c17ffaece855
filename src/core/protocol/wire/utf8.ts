// UTF-8 without TextEncoder/TextDecoder (XS builds do not always carry them). Malformed input is
// decoded to U+FFFD, never thrown on, because it comes straight off the network.

const REPLACEMENT = 0xfffd;
// Code points per String.fromCodePoint call (where XS's native path does not apply): small, because
// every argument takes a slot of the XS stack, which is 256 slots in all on an ESP8266.
const CHUNK = 16;

// Strings are walked with for...of (code points), never by index: XS keeps strings as UTF-8, so
// charCodeAt(i) there scans from the start and a loop over it is quadratic in the length. Engines
// with UTF-16 strings (V8, JavaScriptCore, SpiderMonkey) index them in constant time: there the
// common case, ASCII, takes an index loop (INDEXED below; json-out.ts writes answers' strings so),
// several times cheaper than for...of; every request and answer of the host plug goes through it.
// Both give the same bytes.

/**
 * XS's own String.fromArrayBuffer (an XS extension, absent elsewhere) makes a string of UTF-8 bytes
 * natively: no per-character work and no stack. It accepts any bytes with the right continuation
 * bits (overlong forms and surrogates included), so it is only given bytes checked valid here.
 */
type FromArrayBuffer = (buffer: ArrayBufferLike, offset: number, length: number) => string;
const fromArrayBuffer = (String as unknown as { fromArrayBuffer?: FromArrayBuffer }).fromArrayBuffer;

/**
 * Strings are indexed (charCodeAt) rather than iterated: true where the engine is not XS. XS is told
 * apart by its own extensions: String.fromArrayBuffer, or ArrayBuffer.fromBigInt, which XS builds
 * with CESU-8 strings (xsnap, the XS engine check) have while they lack the first.
 */
export const INDEXED =
  fromArrayBuffer === undefined && typeof (ArrayBuffer as unknown as { fromBigInt?: unknown }).fromBigInt !== "function";

/** Number of bytes `text` takes in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * Writes `text` as UTF-8 into `out` at `offset` (which must have room for utf8Length(text) bytes)
 * and returns the offset after it. Lone surrogates become U+FFFD, or with `keepSurrogates` their own
 * 3-byte sequence, as XS keeps them (for the answer writer, which escapes them as JSON.stringify does).
 */
export function utf8Write(text: string, out: Uint8Array, offset: number, keepSurrogates = false): number {
  let o = offset;
  for (const ch of text) {
    let c = ch.codePointAt(0)!;
    if (!keepSurrogates && c >= 0xd800 && c <= 0xdfff) c = REPLACEMENT;
    if (c < 0x80) out[o++] = c;
    else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  return o;
}

export function utf8Encode(text: string): Uint8Array {
  const out = new Uint8Array(utf8Length(text));
  utf8Write(text, out, 0);
  return out;
}

/**
 * The UTF-8 sequence starting at bytes[i] (i < end): its length when it is complete and valid, else
 * minus the length of its longest valid beginning (at least 1), which the WHATWG decoder turns into
 * one U+FFFD. No overlong forms, no surrogates, nothing above U+10FFFF.
 */
function sequence(bytes: Uint8Array, i: number, end: number): number {
  const b = bytes[i];
  if (b < 0x80) return 1;
  let need: number;
  let lower = 0x80;
  let upper = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b >= 0xe0 && b <= 0xef) {
    need = 2;
    if (b === 0xe0) lower = 0xa0; // no overlong forms
    if (b === 0xed) upper = 0x9f; // no surrogates
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 3;
    if (b === 0xf0) lower = 0x90;
    if (b === 0xf4) upper = 0x8f; // nothing above U+10FFFF
  } else return -1;
  for (let k = 1; k <= need; k++) {
    const c = i + k < end ? bytes[i + k] : -1;
    if (c < lower || c > upper) return -k; // the offending byte is not consumed: it starts the next sequence
    lower = 0x80;
    upper = 0xbf;
  }
  return need + 1;
}

/** Characters per String.fromCharCode call for ASCII text, only where the engine is not XS (see CHUNK). */
const ASCII_CHUNK = 1024;

/** bytes[start, end), all below 0x80, as a string. */
function asciiText(bytes: Uint8Array, start: number, end: number): string {
  let result = "";
  for (let k = start; k < end; k += ASCII_CHUNK) {
    const piece = bytes.subarray(k, end - k > ASCII_CHUNK ? k + ASCII_CHUNK : end);
    result += String.fromCharCode.apply(null, piece as unknown as number[]);
  }
  return result;
}

/**
 * Decodes bytes[start, end) as UTF-8 the way the WHATWG decoder does: each maximal invalid
 * subsequence becomes one U+FFFD (so the result equals TextDecoder's where that exists).
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let i = start;
  if (fromArrayBuffer !== undefined) {
    // check first (only where the native path exists to pay for it)
    while (i < end) {
      const n = sequence(bytes, i, end);
      if (n < 0) break;
      i += n;
    }
    if (i === end) return fromArrayBuffer(bytes.buffer, bytes.byteOffset + start, end - start);
    i = start;
  } else if (INDEXED) {
    // Not XS: ASCII, what requests nearly always are, is its own character codes, handed to
    // fromCharCode in big pieces rather than code point by code point.
    while (i < end && bytes[i] < 0x80) i++;
    if (i === end) return asciiText(bytes, start, end);
    i = start;
  }
  let result = "";
  const points: number[] = []; // code points; fromCodePoint is exact in engines with UTF-16 or UTF-8 strings
  while (i < end) {
    const n = sequence(bytes, i, end);
    if (n < 0) {
      points.push(REPLACEMENT);
      i -= n;
    } else {
      let cp = n === 1 ? bytes[i] : bytes[i] & (0xff >> (n + 1));
      for (let k = 1; k < n; k++) cp = (cp << 6) | (bytes[i + k] & 0x3f);
      points.push(cp);
      i += n;
    }
    if (points.length >= CHUNK) {
      result += String.fromCodePoint.apply(null, points);
      points.length = 0;
    }
  }
  if (points.length > 0) result += String.fromCodePoint.apply(null, points);
  return result;
}
