// UTF-8 without TextEncoder/TextDecoder (XS builds do not always carry them). Malformed input is
// decoded to U+FFFD, never thrown on, because it comes straight off the network.

const REPLACEMENT = 0xfffd;
// Code points per String.fromCodePoint call: small, because every argument takes a slot of the XS
// stack, which is 256 slots in all on an ESP8266.
const CHUNK = 32;

// Strings are walked with for...of (code points), never by index: XS keeps strings as UTF-8, so
// charCodeAt(i) there scans from the start and a loop over it is quadratic in the length.

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
 * and returns the offset after it. Lone surrogates become U+FFFD.
 */
export function utf8Write(text: string, out: Uint8Array, offset: number): number {
  let o = offset;
  for (const ch of text) {
    let c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) c = REPLACEMENT;
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
 * Decodes bytes[start, end) as UTF-8 the way the WHATWG decoder does: each maximal invalid
 * subsequence becomes one U+FFFD (so the result equals TextDecoder's where that exists).
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let result = "";
  const points: number[] = []; // code points; fromCodePoint is exact in engines with UTF-16 or UTF-8 strings
  let i = start;
  while (i < end) {
    const b = bytes[i++];
    let cp = REPLACEMENT;
    let need = 0;
    let lower = 0x80;
    let upper = 0xbf;
    if (b < 0x80) cp = b;
    else if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2; cp = b & 0x0f;
      if (b === 0xe0) lower = 0xa0; // no overlong forms
      if (b === 0xed) upper = 0x9f; // no surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3; cp = b & 0x07;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f; // nothing above U+10FFFF
    }
    while (need > 0) {
      const c = i < end ? bytes[i] : -1;
      if (c < lower || c > upper) {
        cp = REPLACEMENT; // the offending byte is not consumed: it starts the next sequence
        break;
      }
      cp = (cp << 6) | (c & 0x3f);
      lower = 0x80;
      upper = 0xbf;
      i++;
      need--;
    }
    points.push(cp);
    if (points.length >= CHUNK) {
      result += String.fromCodePoint.apply(null, points);
      points.length = 0;
    }
  }
  if (points.length > 0) result += String.fromCodePoint.apply(null, points);
  return result;
}
