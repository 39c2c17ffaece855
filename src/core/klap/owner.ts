// The owner's KLAP credentials (issue 18): set on the setup page, by cnCloud.bind (from the setup
// network or with the presence lock open) or by the host's --credentials file; kept in the settings
// as the v1 auth hash only (klapAuthHash: md5(md5(username) + md5(password)), 32 hex digits), never
// the password. A factory reset wipes them (not an identity key). While none are set every KLAP
// handshake is refused: a plug never takes the blank or TP-Link default credentials python-kasa tries.
//
// The auth hash is password-equivalent, and handshake1 hands anyone on the LAN a hash of it to try
// passwords against offline: so a password must be strong (credentialsProblem says which are refused).

import type { CryptoPort } from "../../ports/ports.js";
import type { Settings } from "../storage/settings.js";
import { KEY } from "../storage/settings.js";
import { hexValue } from "../protocol/params.js";
import { utf8Encode, utf8Length } from "../protocol/wire/utf8.js";
import type { KlapKeys } from "./klap-server.js";
import { klapAuthHash } from "./klap.js";

/** The shortest password taken, in characters (UTF-16 units, as a form or JSON counts them). */
export const MIN_OWNER_PASSWORD = 10;
/** The longest username or password taken, bytes of UTF-8 (an e-mail address is at most 254). */
export const MAX_OWNER_CREDENTIAL_BYTES = 128;

/**
 * The credentials python-kasa tries by itself (kasa/credentials.py DEFAULT_CREDENTIALS, decoded):
 * a plug taking any of them would be open to every client. Frozen, in flash.
 */
export const DEFAULT_KASA_CREDENTIALS: readonly (readonly [string, string])[] = Object.freeze([
  Object.freeze(["kasa@tp-link.net", "kasaSetup"] as const),
  Object.freeze(["admin", "21232f297a57a5a743894a0e4a801fc3"] as const),
  Object.freeze(["test@tp-link.net", "test"] as const),
  Object.freeze(["admin", "admin"] as const),
  Object.freeze(["admin", "TPL075526460603"] as const),
]);

/**
 * Why these credentials are refused, or undefined when they are taken: a username and a password
 * are both needed, neither over MAX_OWNER_CREDENTIAL_BYTES; the password has at least
 * MIN_OWNER_PASSWORD characters, differs from the username and is none of TP-Link's defaults. The
 * message never holds the password.
 */
export function credentialsProblem(username: unknown, password: unknown): string | undefined {
  if (typeof username !== "string" || typeof password !== "string" || username.length === 0 || password.length === 0) {
    return "a username and a password are both needed";
  }
  if (utf8Length(username) > MAX_OWNER_CREDENTIAL_BYTES || utf8Length(password) > MAX_OWNER_CREDENTIAL_BYTES) {
    return `username or password over ${MAX_OWNER_CREDENTIAL_BYTES} bytes`;
  }
  for (const pair of DEFAULT_KASA_CREDENTIALS) {
    if (pair[1] === password) return "TP-Link's default credentials are refused: anyone could use them";
  }
  if (password.length < MIN_OWNER_PASSWORD) return `password too short: at least ${MIN_OWNER_PASSWORD} characters`;
  if (password === username) return "the password must differ from the username";
  return undefined;
}

/** The owner's credentials in the settings: the KLAP server's keys. */
export class KlapOwner implements KlapKeys {
  constructor(
    private readonly settings: Settings,
    private readonly crypto: CryptoPort,
  ) {}

  /** The stored auth hash (16 bytes), or undefined when none (or a damaged one) is stored. */
  authHash(): Uint8Array | undefined {
    const text = this.settings.text(KEY.ownerHash, "");
    if (text.length !== 32) return undefined;
    const hash = new Uint8Array(16);
    for (let i = 0; i < 16; i++) {
      const hi = hexValue(text.charCodeAt(2 * i));
      const lo = hexValue(text.charCodeAt(2 * i + 1));
      if (hi < 0 || lo < 0) return undefined;
      hash[i] = (hi << 4) | lo;
    }
    return hash;
  }

  /** Whether credentials are set. */
  set(): boolean {
    return this.authHash() !== undefined;
  }

  /**
   * Keeps these credentials (their auth hash, written to flash at once), replacing any: undefined
   * when stored, else why not (credentialsProblem, or the store refused it).
   */
  store(username: string, password: string): string | undefined {
    const problem = credentialsProblem(username, password);
    if (problem !== undefined) return problem;
    const hash = klapAuthHash(this.crypto, 1, utf8Encode(username), utf8Encode(password));
    let text = "";
    for (let i = 0; i < hash.length; i++) text += HEX[hash[i] >> 4] + HEX[hash[i] & 15];
    return this.write(text) ? undefined : "the settings could not be written";
  }

  /** Forgets the credentials (at once): every handshake is refused until new ones are set. */
  clear(): void {
    const settings = this.settings;
    settings.direct(true);
    settings.remove(KEY.ownerHash);
    settings.direct(false);
  }

  private write(text: string): boolean {
    const settings = this.settings;
    settings.direct(true);
    const ok = settings.put(KEY.ownerHash, text);
    settings.direct(false);
    return ok;
  }
}

const HEX = "0123456789abcdef";
