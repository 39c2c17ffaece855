// A pass over a request's bytes before JSON.parse sees them: nesting deeper than the bound would
// recurse through the engine's stack (256 slots on an ESP8266), and thousands of tiny members would
// fill its heap from a 2 KB frame. Strings are skipped with their escapes; nothing is allocated.
// This does not validate JSON (JSON.parse does); it only bounds what JSON.parse may build.

// JSON's punctuation as bytes (json-members.ts reads requests with them too)
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const COLON = 0x3a;
export const COMMA = 0x2c;

export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * True when `bytes` (UTF-8 JSON text) nests objects and arrays at most `maxDepth` deep and holds at
 * most `maxItems` object members and array elements in all.
 */
export function jsonWithin(bytes: Uint8Array, maxDepth: number, maxItems: number): boolean {
  // Bit d of `arrays` tells whether the container at depth d is an array (depth is bounded by 31).
  let arrays = 0;
  let depth = 0;
  let items = 0;
  let inString = false;
  /** Just after "[": the next non-space byte starts an element unless it closes the array. */
  let arrayOpened = false;
  const limit = maxDepth < 31 ? maxDepth : 31;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (isSpace(c)) continue;
    if (arrayOpened) {
      arrayOpened = false;
      if (c !== CLOSE_ARRAY && ++items > maxItems) return false;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > limit) return false;
      if (c === OPEN_ARRAY) {
        arrays |= 1 << depth;
        arrayOpened = true;
      } else arrays &= ~(1 << depth);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    } else if (c === COLON) {
      if (++items > maxItems) return false;
    } else if (c === COMMA && depth > 0 && (arrays & (1 << depth)) !== 0) {
      if (++items > maxItems) return false;
    }
  }
  return true;
}
