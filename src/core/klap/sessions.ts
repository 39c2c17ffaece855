// Sessions bound to the owner's credentials, as KLAP (klap-server.ts) and the owner's page
// (owner/owner-page.ts) keep them: each one's bytes start with its random id (a cookie, a session
// id) and hold the auth hash it was made with; a session made under other credentials is let go at
// its next use (the credentials changed or were cleared). Bounded in number (a new one takes the
// place of an expired one, else of one still waiting for its handshake's end, the oldest first,
// else of the established one unused longest) and in time: a handshake must end within
// limits.klapHandshakeMs, a session lives limits.klapSessionSeconds at most and
// limits.klapSessionIdleMs unused. Expired ones are let go when the table is next looked at: no timer.

import type { LogPort } from "../../ports/ports.js";
import { budgetAdmit, budgets, type Limits } from "../limits.js";
import { hexValue } from "../protocol/params.js";
import type { KlapKeys } from "./klap-server.js";

/** A session's id: this many random bytes, written as twice as many hex digits. */
export const SESSION_ID_BYTES = 16;

export interface Keyed {
  /** The id (SESSION_ID_BYTES) first; the rest is the session's own. */
  readonly bytes: Uint8Array;
  /** Monotonic ms when it was made, and last used. */
  readonly created: number;
  used: number;
  /** Its handshake (or log-in) ended: an established session. */
  established(): boolean;
  /** The auth hash it was made with (a view into `bytes`). */
  authHash(): Uint8Array;
}

export class SessionTable<T extends Keyed> {
  private readonly list: T[] = [];

  constructor(
    private readonly keys: KlapKeys,
    private readonly now: () => number,
    private readonly limits: Limits,
    /** How many are kept. */
    private readonly max: number,
  ) {}

  get size(): number {
    return this.list.length;
  }

  /** The session with this id (compared in constant time), expired ones let go first. */
  find(id: Uint8Array | null): T | undefined {
    if (id === null || id.length !== SESSION_ID_BYTES) return undefined;
    this.sweep(this.now());
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (sameAt(list[i].bytes, 0, id)) return list[i];
    return undefined;
  }

  /** Whether the session was made under the credentials set now (else it is let go). */
  current(session: T): boolean {
    const authHash = this.keys.authHash();
    if (authHash !== undefined && authHash.length === 16 && sameAt(session.authHash(), 0, authHash)) return true;
    this.remove(session);
    return false;
  }

  /** Takes a new session in; returns the established one it took the place of, if any (for the log). */
  admit(session: T): T | undefined {
    const list = this.list;
    this.sweep(this.now());
    let dropped: T | undefined;
    if (list.length >= this.max) {
      let victim = 0;
      for (let i = 1; i < list.length; i++) {
        const a = list[i];
        const b = list[victim];
        if (a.established() !== b.established()) {
          if (!a.established()) victim = i;
        } else if (a.used < b.used) victim = i;
      }
      if (list[victim].established()) dropped = list[victim];
      list.splice(victim, 1);
    }
    list.push(session);
    return dropped;
  }

  remove(session: T): void {
    const i = this.list.indexOf(session);
    if (i >= 0) this.list.splice(i, 1);
  }

  clear(): void {
    this.list.length = 0;
  }

  private sweep(now: number): void {
    const l = this.limits;
    const list = this.list;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i];
      const gone = s.established() ? now - s.created >= l.klapSessionSeconds * 1000 || now - s.used >= l.klapSessionIdleMs : now - s.created >= l.klapHandshakeMs;
      if (gone) list.splice(i, 1);
    }
  }
}

/**
 * The budgets of the handshakes that start a session (KLAP's handshake1, the owner's page's hello),
 * per client address and for the whole plug: limits.klapSenderHandshakes at once and
 * klapSenderHandshakesPerMinute after that for one address, klapHandshakes and
 * klapHandshakesPerMinute for all of them (limits.ts budgets). The first refusal is logged, and how
 * many were refused once one is let in again.
 */
export class HandshakeBudget {
  private readonly rows: Float64Array;
  private refused = 0;

  constructor(
    private readonly limits: Limits,
    private readonly now: () => number,
    private readonly log: LogPort,
    /** Whose lines ("klap", "owner page") ... */
    private readonly tag: string,
    /** ... about what ("handshake", "log-in"). */
    private readonly what: string,
  ) {
    this.rows = budgets(limits.klapHandshakeSenders, limits.klapSenderHandshakes, limits.klapHandshakes, now());
  }

  /** Whether one more handshake from `address` is let in. */
  admit(address: string): boolean {
    const l = this.limits;
    if (!budgetAdmit(this.rows, this.now(), address, l.klapSenderHandshakes, l.klapSenderHandshakesPerMinute / 60, l.klapHandshakes, l.klapHandshakesPerMinute / 60, 1)) {
      if (this.refused++ === 0) this.log(`${this.tag}: ${this.what} from ${address} refused: over its budget (${l.klapSenderHandshakes}, then ${l.klapSenderHandshakesPerMinute} a minute) or the plug's`);
      return false;
    }
    if (this.refused > 0) this.log(`${this.tag}: ${this.refused} ${this.what}s refused over budget`);
    this.refused = 0;
    return true;
  }
}

/** Whether bytes[at, at + b.length) equals b, in time independent of where they differ. */
export function sameAt(bytes: Uint8Array, at: number, b: Uint8Array): boolean {
  if (bytes.length - at < b.length) return false;
  let diff = 0;
  for (let i = 0; i < b.length; i++) diff |= bytes[at + i] ^ b[i];
  return diff === 0;
}

/** bytes[at, at + 2n) as n bytes from hex digits (either case) into out[0, n), or false (out then partly written). */
export function hexInto(bytes: Uint8Array, at: number, out: Uint8Array, n: number): boolean {
  if (at + 2 * n > bytes.length) return false;
  for (let i = 0; i < n; i++) {
    const hi = hexValue(bytes[at + 2 * i]);
    const lo = hexValue(bytes[at + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = (hi << 4) | lo;
  }
  return true;
}

/** Writes big-endian `seq` into out[at, at + 4) (KLAP's IV and signature, the owner's page's MAC). */
export function seqInto(out: Uint8Array, at: number, seq: number): void {
  for (let i = 0; i < 4; i++) out[at + i] = (seq >>> (24 - 8 * i)) & 0xff;
}

/** Whether bytes[at, at + text.length), before `end`, is `text` (ASCII; lowercase text matches either case when `fold`). */
export function matches(bytes: Uint8Array, at: number, end: number, text: string, fold: boolean): boolean {
  if (end - at < text.length) return false;
  for (let i = 0; i < text.length; i++) {
    const c = bytes[at + i];
    if ((fold && c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== text.charCodeAt(i)) return false;
  }
  return true;
}

const HEX = "0123456789abcdef";

/** Bytes as lowercase hex digits (ids, nonces: what the plug made, never input). */
export function hexOf(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  return s;
}
