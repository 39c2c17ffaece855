// A client of the owner's page (src/core/owner/owner-page.ts) as its script is (node:crypto for
// MD5 and SHA-256): log in with a username and password, then MAC'd requests. `send` does the HTTP
// (over a real socket with fetch, or into a fake listener): it gets the path, the headers and the body.

import { createHash, randomBytes } from "node:crypto";

export type Send = (path: string, body: Uint8Array | string, headers?: Record<string, string>) => Promise<{ status: number; text: string }>;

const md5 = (...parts: Uint8Array[]) => {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
export const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
export const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const utf8 = (s: string) => new TextEncoder().encode(s);
const seq4 = (q: number) => Uint8Array.of(q >>> 24, (q >>> 16) & 255, (q >>> 8) & 255, q & 255);

export function authHash(username: string, password: string): Uint8Array {
  return md5(md5(utf8(username)), md5(utf8(password)));
}

export class OwnerClient {
  key: Uint8Array | null = null;
  session = "";
  seq = 0;
  constructor(private readonly send: Send) {}

  /** Logs in: the status of the hello, else of the login (200 when logged in). */
  async login(username: string, password: string): Promise<number> {
    const a = authHash(username, password);
    const c = new Uint8Array(randomBytes(16));
    const hello = await this.send("/owner/hello", hex(c));
    if (hello.status !== 200) return hello.status;
    const j = JSON.parse(hello.text) as { nonce: string; session: string };
    const n = new Uint8Array(Buffer.from(j.nonce, "hex"));
    const login = await this.send("/owner/login", j.session + hex(sha256(c, n, a)));
    if (login.status !== 200) return login.status;
    this.session = j.session;
    this.key = sha256(utf8("owner"), n, c, a);
    this.seq = 0;
    return 200;
  }

  /** The path and MAC of the next request on `route` (the MAC over `tail`: the body, or an update's length). */
  next(route: string, tail: Uint8Array, seq = ++this.seq): string {
    return `/owner/${route}?s=${this.session}&q=${seq}&m=${hex(sha256(this.key!, utf8(route), seq4(seq), tail))}`;
  }

  async kasa(request: unknown): Promise<{ status: number; text: string }> {
    const body = utf8(JSON.stringify(request));
    return this.send(this.next("kasa", body), body);
  }

  async status(): Promise<{ status: number; text: string }> {
    return this.send(this.next("status", new Uint8Array(0)), new Uint8Array(0));
  }

  async update(image: Uint8Array): Promise<{ status: number; text: string }> {
    return this.send(this.next("update", utf8(String(image.length))), image);
  }
}

/** A `send` over fetch to a host plug's page at `base` (http://127.0.0.1:port), with the page's Origin. */
export function fetchSend(base: string): Send {
  return async (path, body, headers = {}) => {
    const r = await fetch(base + path, { method: "POST", body, headers: { origin: base, ...headers } });
    return { status: r.status, text: await r.text() };
  };
}
