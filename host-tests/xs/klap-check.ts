// The KLAP core (src/core/klap/klap.ts) run over python-kasa's vectors (host-tests/support/klap-vectors.json)
// with a given crypto port, as a list of [what, hex] results, and the same list as the vectors
// expect it. Plain ECMAScript and the core only: it runs on Node, in xsnap's XS worker
// (host-tests/xs/klap-entry.ts, with the test-only jsCrypto) and in the Moddable simulator
// (scripts/crypto-selftest/, with src/moddable/crypto.ts over the SDK's crypt natives).

import { klapAuthHash, klapHandshake1, klapHandshake2, klapHandshake2Valid, KlapSession, type KlapVersion } from "../../src/core/klap/klap.js";
import { utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import type { CryptoPort } from "../../src/ports/ports.js";

export type KlapMessage = { seq: number; plaintext: string; body: string };
export type KlapVectors = {
  authHashes: { username: string; password: string; v1: string; v2: string }[];
  handshakes: { version: KlapVersion; localSeed: string; remoteSeed: string; authHash: string; handshake1: string; handshake2: string }[];
  sessions: { localSeed: string; remoteSeed: string; authHash: string; key: string; iv: string; seq: number; sig: string; messages: KlapMessage[] }[];
  wrap: { localSeed: string; remoteSeed: string; authHash: string; last: KlapMessage; lowest: KlapMessage };
};
export type KlapResult = [what: string, value: string];

/** As the plug bounds it (limits.ts maxFrameBytes). */
const MAX_PLAINTEXT = 2048;
const HEX = "0123456789abcdef";

export function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = (HEX.indexOf(text[2 * i]) << 4) | HEX.indexOf(text[2 * i + 1]);
  return out;
}

export function toHex(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) return "undefined";
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  return text;
}

const shown = (r: Uint8Array | string) => (typeof r === "string" ? r : toHex(r));

/** What the core computes over the vectors with `crypto`. */
export function klapResults(crypto: CryptoPort, v: KlapVectors): KlapResult[] {
  const out: KlapResult[] = [];
  for (const [i, c] of v.authHashes.entries()) {
    out.push([`authHash ${i} v1`, toHex(klapAuthHash(crypto, 1, utf8Encode(c.username), utf8Encode(c.password)))]);
    out.push([`authHash ${i} v2`, toHex(klapAuthHash(crypto, 2, utf8Encode(c.username), utf8Encode(c.password)))]);
  }
  for (const [i, h] of v.handshakes.entries()) {
    const [ls, rs, ah] = [fromHex(h.localSeed), fromHex(h.remoteSeed), fromHex(h.authHash)];
    out.push([`handshake ${i} v${h.version} handshake1`, toHex(klapHandshake1(crypto, h.version, ls, rs, ah))]);
    out.push([`handshake ${i} v${h.version} handshake2`, toHex(klapHandshake2(crypto, h.version, ls, rs, ah))]);
    out.push([`handshake ${i} v${h.version} handshake2 valid`, String(klapHandshake2Valid(crypto, h.version, ls, rs, ah, fromHex(h.handshake2)))]);
  }
  for (const [i, s] of v.sessions.entries()) {
    const sealer = new KlapSession(crypto, fromHex(s.localSeed), fromHex(s.remoteSeed), fromHex(s.authHash), MAX_PLAINTEXT);
    out.push([`session ${i} key`, toHex(sealer.key)], [`session ${i} iv`, toHex(sealer.iv)], [`session ${i} seq`, String(sealer.firstSeq)], [`session ${i} sig`, toHex(sealer.sig)]);
    const opener = new KlapSession(crypto, fromHex(s.localSeed), fromHex(s.remoteSeed), fromHex(s.authHash), MAX_PLAINTEXT);
    for (const [j, m] of s.messages.entries()) {
      out.push([`session ${i} message ${j} sealed`, toHex(sealer.seal(fromHex(m.plaintext), m.seq))]);
      out.push([`session ${i} message ${j} opened`, shown(opener.open(fromHex(m.body), m.seq))]);
    }
    // refusals the crypto decides: a flipped signature byte, a flipped ciphertext byte, a replay
    const last = s.messages[s.messages.length - 1];
    const forged = fromHex(last.body);
    forged[0] ^= 1;
    out.push([`session ${i} forged signature`, shown(opener.open(forged, last.seq + 1))]);
    const tampered = fromHex(last.body);
    tampered[tampered.length - 1] ^= 1;
    out.push([`session ${i} tampered ciphertext`, shown(opener.open(tampered, last.seq + 1))]);
    out.push([`session ${i} replayed`, shown(opener.open(fromHex(last.body), last.seq))]);
  }
  const w = v.wrap;
  const wrap = new KlapSession(crypto, fromHex(w.localSeed), fromHex(w.remoteSeed), fromHex(w.authHash), MAX_PLAINTEXT);
  out.push(["wrap last sealed", toHex(wrap.seal(fromHex(w.last.plaintext), w.last.seq))]);
  out.push(["wrap lowest sealed", toHex(wrap.seal(fromHex(w.lowest.plaintext), w.lowest.seq))]);
  out.push(["wrap last opened", shown(wrap.open(fromHex(w.last.body), w.last.seq))]);
  return out;
}

/** The same list as python-kasa's values say it must come out. */
export function klapExpected(v: KlapVectors): KlapResult[] {
  const out: KlapResult[] = [];
  for (const [i, c] of v.authHashes.entries()) out.push([`authHash ${i} v1`, c.v1], [`authHash ${i} v2`, c.v2]);
  for (const [i, h] of v.handshakes.entries()) {
    out.push([`handshake ${i} v${h.version} handshake1`, h.remoteSeed + h.handshake1]);
    out.push([`handshake ${i} v${h.version} handshake2`, h.handshake2]);
    out.push([`handshake ${i} v${h.version} handshake2 valid`, "true"]);
  }
  for (const [i, s] of v.sessions.entries()) {
    out.push([`session ${i} key`, s.key], [`session ${i} iv`, s.iv], [`session ${i} seq`, String(s.seq)], [`session ${i} sig`, s.sig]);
    for (const [j, m] of s.messages.entries()) out.push([`session ${i} message ${j} sealed`, m.body], [`session ${i} message ${j} opened`, m.plaintext]);
    out.push([`session ${i} forged signature`, "signature"], [`session ${i} tampered ciphertext`, "signature"], [`session ${i} replayed`, "seq"]);
  }
  out.push(["wrap last sealed", v.wrap.last.body], ["wrap lowest sealed", v.wrap.lowest.body], ["wrap last opened", v.wrap.last.plaintext]);
  return out;
}

/** The results that differ from the expected ones (with what was expected), or a count mismatch. */
export function klapMismatches(results: KlapResult[], expected: KlapResult[]): string[] {
  const bad: string[] = [];
  if (results.length !== expected.length) bad.push(`${results.length} results, ${expected.length} expected`);
  for (let i = 0; i < expected.length && i < results.length; i++) {
    const [what, value] = results[i];
    if (what !== expected[i][0] || value !== expected[i][1]) bad.push(`${what}: ${value}, expected ${expected[i][0]}: ${expected[i][1]}`);
  }
  return bad;
}
