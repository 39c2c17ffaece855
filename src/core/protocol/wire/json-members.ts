// The members of an object in a request, read from the request's bytes with their names as strings:
// the dispatcher answers modules and methods by name without making a name the plug does not know
// a property name (dispatcher.ts says why). It reads text that JSON.parse accepted as an object, so
// it does not check the JSON again: it follows strings and nesting only, in one loop (no recursion:
// the XS stack is 256 slots on an ESP8266), and stops at the end of the bytes whatever they hold.

import { Members } from "./json-out.js";
import { utf8Decode } from "./utf8.js";

import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, isSpace, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from "./json-shape.js";

/**
 * The members of the object whose "{" is the first one at or after bytes[at], as the object
 * JSON.parse makes of it has them (Object.keys): names that are array indices first, in increasing
 * order, then the others in the order they first appear; a name sent twice is one member, in its
 * first place, with the value sent last. Each member's value in `values` is where that value starts
 * in `bytes` (its first byte), for the caller to replace with its answer. Names are decoded as
 * JSON.parse decodes them (escapes included) into strings, never keys.
 */
export function membersAt(bytes: Uint8Array, at: number, names?: readonly string[], table?: NameBytes): Members {
  const members = new Members();
  const end = bytes.length;
  while (at < end && bytes[at] !== OPEN_OBJECT) at++;
  /** Arrays and objects open inside the object's values. */
  let depth = 0;
  /** At depth 0, after "{" or ",": the next string is a name. */
  let name = true;
  for (let i = at + 1; i < end; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < end && bytes[i] !== QUOTE; i++) {
        if (bytes[i] === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      if (depth > 0 || !name) continue;
      name = false;
      // the value: after the colon and any space
      let value = i + 1;
      while (value < end && bytes[value] !== COLON) value++;
      value++;
      while (value < end && isSpace(bytes[value])) value++;
      // JSON.parse of a quoted string makes a string, not a key; without escapes the bytes are the name
      // a name among `names` (their bytes in `table`) is that string, made once: none is made per request
      const known = escaped || table === undefined ? -1 : nameIndex(bytes, start + 1, i, table);
      add(members, known >= 0 ? names![known] : escaped ? (JSON.parse(utf8Decode(bytes, start, i + 1)) as string) : utf8Decode(bytes, start + 1, i), value);
      i = value - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 0) break;
      depth--;
    } else if (c === COMMA && depth === 0) name = true;
  }
  return members;
}

/** Adds member `name` where JSON.parse's object has it (see membersAt), or gives it the new value if it is there. */
function add(members: Members, name: string, value: number): void {
  const names = members.names;
  for (let k = 0; k < names.length; k++) {
    if (names[k] === name) {
      members.values[k] = value;
      return;
    }
  }
  const index = arrayIndex(name);
  let k = names.length;
  if (index >= 0) {
    // after the indices below it, which are the first names
    for (k = 0; k < names.length; k++) {
      const other = arrayIndex(names[k]);
      if (other < 0 || other > index) break;
    }
  }
  if (k === names.length) {
    names.push(name);
    members.values.push(value);
  } else {
    names.splice(k, 0, name);
    members.values.splice(k, 0, value);
  }
}

/** `name` as an array index (digits without a leading zero, below 2^32 - 1), which objects list first; else -1. */
function arrayIndex(name: string): number {
  if (name.length === 0 || name.length > 10) return -1;
  let n = 0;
  for (let i = 0; i < name.length; i++) {
    const d = name.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9 || (d === 0 && i === 0 && name.length > 1)) return -1;
    n = n * 10 + d;
  }
  return n < 0xffffffff ? n : -1;
}

/** Names as bytes, for namesKnown: one run of ASCII bytes, the names in their (sorted) order, and where each ends. */
export interface NameBytes {
  readonly bytes: Uint8Array;
  readonly ends: Uint16Array;
}

/** `names` (sorted, ASCII) as NameBytes. Made once at a module's top level: a device keeps it in flash. */
export function nameBytes(names: readonly string[]): NameBytes {
  let total = 0;
  for (let i = 0; i < names.length; i++) total += names[i].length;
  const bytes = new Uint8Array(total);
  const ends = new Uint16Array(names.length);
  let at = 0;
  for (let i = 0; i < names.length; i++) {
    for (let k = 0; k < names[i].length; k++) bytes[at++] = names[i].charCodeAt(k);
    ends[i] = at;
  }
  return Object.freeze({ bytes, ends });
}

/**
 * True when every member name in `bytes` is one of `names` exactly as written, and every other
 * string is a plain value (followed by `,` `}` `]` or the end): JSON.parse then meets no name that is
 * not a key already, so it makes none, and needs no list of names (on XS that list costs a slot a
 * name, about 100, at every parse). Anything else (an escape in a name, an unknown name, a string
 * where a name or value cannot be) is false: the caller parses with the list. It compares bytes with
 * bytes (no string is read: on XS each read of a string's property allocates) and allocates nothing.
 */
export function namesKnown(bytes: Uint8Array, names: NameBytes): boolean {
  const end = bytes.length;
  for (let i = 0; i < end; i++) {
    if (bytes[i] !== QUOTE) continue;
    const start = i + 1;
    let escaped = false;
    for (i++; i < end && bytes[i] !== QUOTE; i++) {
      if (bytes[i] === BACKSLASH) {
        escaped = true;
        i++;
      }
    }
    let next = i + 1;
    while (next < end && isSpace(bytes[next])) next++;
    const c = next < end ? bytes[next] : COMMA;
    if (c === COLON) {
      if (escaped || nameIndex(bytes, start, i, names) < 0) return false;
    } else if (c !== COMMA && c !== CLOSE_OBJECT && c !== CLOSE_ARRAY) return false;
  }
  return true;
}

/** Which of the names bytes[start, end) is, or -1 (a binary search: they are sorted by code unit, so by byte). */
function nameIndex(bytes: Uint8Array, start: number, end: number, names: NameBytes): number {
  const table = names.bytes;
  const ends = names.ends;
  let low = 0;
  let high = ends.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const from = mid === 0 ? 0 : ends[mid - 1];
    const length = ends[mid] - from;
    let order = 0;
    for (let k = 0; order === 0 && k < length && start + k < end; k++) order = bytes[start + k] - table[from + k];
    if (order === 0) order = end - start - length;
    if (order === 0) return mid;
    if (order > 0) low = mid + 1;
    else high = mid;
  }
  return -1;
}
