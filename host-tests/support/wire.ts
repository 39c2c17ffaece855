// The test side of the wire: requests encoded the way clients encode them (the core only decodes
// requests; it streams its answers, src/core/protocol/wire/json-out.ts), and answer trees turned into text
// through the core's own writer, as the server sends them.

import { HEADER_BYTES } from "../../src/core/protocol/wire/frame.js";
import { JsonOut } from "../../src/core/protocol/wire/json-out.js";
import { utf8Decode, utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import { decrypt, INITIAL_KEY } from "../../src/core/protocol/wire/xor.js";

/** Encrypts `bytes` in place as clients do (the plug encrypts as it writes, json-out.ts) and returns it. */
export function encrypt(bytes: Uint8Array): Uint8Array {
  let key = INITIAL_KEY;
  for (let i = 0; i < bytes.length; i++) bytes[i] = key ^= bytes[i];
  return bytes;
}

/** `text` as one TCP frame (4-byte big-endian length, then the encrypted UTF-8 bytes; lone surrogates become U+FFFD). */
export function encodeFrame(text: string): Uint8Array {
  const body = utf8Encode(text);
  const out = new Uint8Array(HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(encrypt(body), HEADER_BYTES);
  return out;
}

/** `text` as one UDP datagram (no header). */
export function encodeDatagram(text: string): Uint8Array {
  return encrypt(utf8Encode(text));
}

/** The TCP frame the core writes for `tree`, its pieces joined (a buffer of `bufferBytes`). */
export function answerFrame(tree: unknown, bufferBytes = 64, indexed?: boolean): Uint8Array {
  const out = new JsonOut(new Uint8Array(bufferBytes), indexed);
  const pieces: Uint8Array[] = [];
  out.frame(tree, out.measure(tree), { write: (bytes) => pieces.push(bytes.slice()) });
  return Uint8Array.from(Buffer.concat(pieces));
}

/** The JSON text the core writes for `tree`. */
export function answerText(tree: unknown): string {
  return utf8Decode(decrypt(answerFrame(tree, 1024).subarray(HEADER_BYTES)));
}
