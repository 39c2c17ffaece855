// KLAP on HTTP (issue 18): /app/handshake1, /app/handshake2 and /app/request?seq=N in front of the
// Kasa dispatcher, as python-kasa's kasa/transports/klaptransport.py (over aiohttp) expects them:
//
// - POST /app/handshake1, body the client's 16-byte seed: 200 with the plug's seed and
//   SHA-256(client seed + auth hash) (48 bytes), and `Set-Cookie: TP_SESSIONID=<32 hex>;TIMEOUT=<s>`
//   (aiohttp reads both as cookies; python-kasa sends TP_SESSIONID back and redoes the handshake 20
//   minutes before TIMEOUT). No credentials set: 403 (a plug nobody set up is controlled by nobody;
//   the blank and default credentials python-kasa tries are never accepted). Over the handshake
//   budget of its address or of the plug: 429 (python-kasa reports it and does not retry).
// - POST /app/handshake2 with the cookie, body SHA-256(plug seed + auth hash): 200 and the session is
//   established; anything else: 403, and that handshake is gone.
// - POST /app/request?seq=N with the cookie of an established session, body signature + AES-CBC:
//   KlapSession.open, the dispatcher, the answer sealed with the same seq: 200. Any refusal (no or
//   unknown cookie, expired session, seq not above the last, bad signature or padding): 403, which
//   python-kasa answers with a new handshake.
//
// HTTP/1.1 with keep-alive (several requests per connection; HTTP/1.0 or `Connection: close` close
// after the answer), parsed on bytes as they arrive: the request line and the few headers read
// (Content-Length, Cookie, Connection, Transfer-Encoding) each go through one line buffer of
// LINE_BYTES per connection, all of them together at most limits.klapHeadBytes; nothing else of a
// header is kept, no string is made from input. Content-Length is required and bounded by the path
// (16, 32, the session's largest body), the body read into one array of that length. Anything
// malformed is answered 400/403/404/405/411/413/431 and the connection closed: nothing is thrown.
// Connections are bounded in number and time as the Kasa port's (connections.ts), sessions in number
// (limits.klapSessions, a new handshake taking the place of an expired one or the one unused
// longest) and time (TIMEOUT, and an idle expiry). The answer is written as the socket has room.
//
// Memory: no answer is ever whole in memory. Its body is the signature, SHA-256 over the ciphertext,
// then the ciphertext: the answer tree is walked by the Kasa server's JsonOut once to size it, once
// to sign it (its text encrypted block by block, CBC chained, into an incremental SHA-256), and
// then once for each part the socket has room for (the text encrypted again, only that part
// written): all through one buffer of limits.answerBufferBytes (Sealer). An answer over
// limits.klapMaxAnswerBytes has each method's answer replaced by an error saying so, as the UDP path does.

import type { CryptoPort, LogPort, RandomPort, Sha256Stream, StreamHandler, StreamSocket, TcpListenerPort, TimerPort } from "../../ports/ports.js";
import type { Limits } from "../limits.js";
import { ConnectionSet, REFUSED, type Bounded, type Expiry } from "../protocol/connections.js";
import type { Answer } from "../protocol/dispatcher.js";
import { errorText } from "../protocol/errors.js";
import { boundedAnswer, Effects, type KasaServer } from "../protocol/server.js";
import type { ByteSink, JsonOut } from "../protocol/wire/json-out.js";
import { utf8Encode } from "../protocol/wire/utf8.js";
import { INITIAL_KEY } from "../protocol/wire/xor.js";
import { HandshakeBudget, hexInto, hexOf, matches, seqInto, SESSION_ID_BYTES, SessionTable, type Keyed } from "./sessions.js";
import { KLAP_HANDSHAKE2_BYTES, KLAP_SEED_BYTES, KLAP_SIGNATURE_BYTES, klapBodyBytes, klapHandshake1, klapHandshake2Valid, KlapSession } from "./klap.js";

export interface KlapServerPorts {
  crypto: CryptoPort;
  random: RandomPort;
  /** The plug's limited log. */
  log: LogPort;
  timers: TimerPort;
  /** Monotonic milliseconds. */
  now: () => number;
}

/** Where the owner's auth hash comes from (the plug's settings). */
export interface KlapKeys {
  /** The v1 auth hash (16 bytes), or undefined while no credentials are set: every handshake is then refused. */
  authHash(): Uint8Array | undefined;
}

/**
 * Whoever serves the requests on KLAP's listener that are not KLAP's: the owner's page on a device's
 * port 80 in the KLAP modes (owner/owner-page.ts). A connection whose request line's path does not
 * start with /app/ is handed to it, with the bytes read so far, and is its from then on.
 */
export interface OtherRequests {
  accept(socket: StreamSocket, address: string): StreamHandler;
}

/** A request line longer than this before its path is known (a method this long) is not KLAP's: handed over. */
const METHOD_BYTES = 16;

/** A request line or a header line we read is at most this long; a longer one we need is refused (431). */
export const LINE_BYTES = 128;
/** The session cookie: this many random bytes, written as twice as many hex digits. */
export const COOKIE_BYTES = SESSION_ID_BYTES;

const ROUTE_HANDSHAKE1 = 1;
const ROUTE_HANDSHAKE2 = 2;
const ROUTE_REQUEST = 3;

/** A connection reading a request's line and headers, its body, or answering (dispatching or writing). */
const HEAD = 0;
const BODY = 1;
const BUSY = 2;

const CR = 13;
const LF = 10;
const SP = 32;
const TAB = 9;

/** The reason phrases of the answers (as RFC 9110 names them): KLAP's, and the owner's page's. */
export function reason(status: number): string {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

/** Thrown by Sealer once the part of the ciphertext a pass was to write is out, caught in `send`. */
const PART_WRITTEN: object = Object.freeze({});

/**
 * Encrypts an answer's text as KlapSession.seal does (PKCS#7, AES-128-CBC under the session's key
 * and the IV of `seq`), block by block as JsonOut writes it, into a hash (the signature) or a part
 * of it into a socket. One per server: its buffer is all an answer costs.
 */
class Sealer implements ByteSink {
  private readonly block: Uint8Array;
  private fill = 0;
  /** The last byte JsonOut wrote: its text comes autokey-encrypted, undone here. */
  private prev = INITIAL_KEY;
  private readonly iv = new Uint8Array(16);
  private key: Uint8Array = this.iv;
  private hash: Sha256Stream | null = null;
  private socket: StreamSocket | null = null;
  /** Ciphertext bytes before the block's first; the part [from, to) goes to the socket. */
  private at = 0;
  private from = 0;
  private to = 0;

  constructor(private readonly crypto: CryptoPort, bytes: number) {
    this.block = new Uint8Array(bytes < 32 ? 16 : bytes - (bytes % 16));
  }

  /** The signature of the body of `answer` (`size` bytes of text) under `seq`: a pass into an incremental SHA-256. */
  signature(out: JsonOut, answer: Answer, size: number, session: KlapSession, seq: number): Uint8Array {
    const hash = this.crypto.sha256Stream();
    const signed = new Uint8Array(KLAP_SIGNATURE_BYTES);
    signed.set(session.sig, 0);
    seqInto(signed, 28, seq);
    hash.write(signed);
    this.hash = hash;
    try {
      this.pass(out, answer, size, session, seq);
    } finally {
      this.hash = null;
    }
    return hash.close();
  }

  /** Writes ciphertext bytes [from, to) of the same body to `socket`: a pass that stops once they are out. */
  send(out: JsonOut, answer: Answer, size: number, session: KlapSession, seq: number, socket: StreamSocket, from: number, to: number): void {
    this.socket = socket;
    this.from = from;
    this.to = to;
    try {
      this.pass(out, answer, size, session, seq);
    } catch (e) {
      if (e !== PART_WRITTEN) throw e;
    } finally {
      this.socket = null;
    }
  }

  private pass(out: JsonOut, answer: Answer, size: number, session: KlapSession, seq: number): void {
    this.key = session.key;
    this.iv.set(session.iv, 0);
    seqInto(this.iv, 12, seq);
    this.fill = 0;
    this.prev = INITIAL_KEY;
    this.at = 0;
    out.stream(answer, size, this);
    // PKCS#7: the block's room is a multiple of 16, so the padding always fits after what is left
    const pad = 16 - (this.fill % 16);
    this.block.fill(pad, this.fill, this.fill + pad);
    this.fill += pad;
    this.cipher();
  }

  /** JsonOut's text (autokey-encrypted), in order: decoded into the block, encrypted each time it fills. */
  write(bytes: Uint8Array): void {
    const block = this.block;
    let prev = this.prev;
    let fill = this.fill;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      block[fill++] = c ^ prev;
      prev = c;
      if (fill === block.length) {
        this.prev = prev;
        this.fill = fill;
        this.cipher();
        fill = 0;
      }
    }
    this.prev = prev;
    this.fill = fill;
  }

  /** Encrypts the block (CBC chained from the last one) and hands it on. */
  private cipher(): void {
    const n = this.fill;
    this.fill = 0;
    const part = this.block.subarray(0, n);
    this.crypto.aes128Cbc(true, this.key, this.iv, part);
    this.iv.set(part.subarray(n - 16, n), 0);
    const start = this.at;
    const end = (this.at = start + n);
    if (this.hash !== null) {
      this.hash.write(part);
      return;
    }
    const a = this.from > start ? this.from - start : 0;
    const b = this.to < end ? this.to - start : n;
    if (a < b) (this.socket as StreamSocket).write(part.subarray(a, b));
    if (end >= this.to) throw PART_WRITTEN;
  }
}

/** One session: a handshake waiting for its handshake2 (its seeds), or established (its KlapSession). */
class Slot implements Keyed {
  session: KlapSession | null = null;
  used: number;
  /** The cookie (COOKIE_BYTES), then the auth hash it was made with (a session made under other credentials is refused): one array. */
  readonly bytes = new Uint8Array(COOKIE_BYTES + 16);
  constructor(
    cookie: Uint8Array,
    public localSeed: Uint8Array | null,
    public remoteSeed: Uint8Array | null,
    authHash: Uint8Array,
    readonly created: number,
  ) {
    this.used = created;
    this.bytes.set(cookie, 0);
    this.bytes.set(authHash, COOKIE_BYTES);
  }

  /** The auth hash it was made with (a view). */
  authHash(): Uint8Array {
    return this.bytes.subarray(COOKIE_BYTES);
  }

  established(): boolean {
    return this.session !== null;
  }
}

export class KlapServer {
  private http: TcpListenerPort | null = null;
  readonly connections: ConnectionSet<KlapConnection>;
  private readonly slots: SessionTable<Slot>;
  /** Handshake budgets, per client address and for the whole plug (limits.ts, budgets). */
  private readonly handshakes: HandshakeBudget;
  /** Encrypts every answer, a part at a time. */
  readonly sealer: Sealer;
  /** Requests on this listener that are not KLAP's go there (undefined: 404, as before). */
  other: OtherRequests | undefined = undefined;

  constructor(
    readonly kasa: KasaServer,
    readonly ports: KlapServerPorts,
    readonly keys: KlapKeys,
    readonly limits: Limits,
  ) {
    this.connections = new ConnectionSet<KlapConnection>(ports.timers, ports.now, limits.klapConnections);
    this.slots = new SessionTable<Slot>(keys, ports.now, limits, limits.klapSessions);
    this.sealer = new Sealer(ports.crypto, limits.answerBufferBytes);
    this.handshakes = new HandshakeBudget(limits, ports.now, ports.log, "klap", "handshake");
  }

  /** Serves KLAP on this listener (port 80 on a device). */
  start(http: TcpListenerPort): void {
    this.http = http;
    // A bound method, not a closure: on a device a closure's code is copied to RAM.
    http.listen(this.accept.bind(this));
  }

  /** Closes the listener and every session. */
  stop(): void {
    this.connections.clear();
    this.http?.close();
    this.http = null;
    this.slots.clear();
  }

  /** Forgets every session (the credentials changed or were cleared): their clients get 403 and handshake again. */
  dropSessions(): void {
    this.slots.clear();
  }

  /** Sessions kept now (handshakes waiting for their handshake2 included). */
  get sessions(): number {
    return this.slots.size;
  }

  log(line: string): void {
    this.ports.log(line);
  }

  now(): number {
    return this.ports.now();
  }

  private accept(socket: StreamSocket, address: string): StreamHandler {
    if (!this.connections.makeRoom()) {
      this.log(`klap: connection refused: all ${this.limits.klapConnections} open are busy answering`);
      socket.close();
      return REFUSED;
    }
    const connection = new KlapConnection(socket, this, address);
    this.connections.admit(connection);
    return connection;
  }

  /** Whether a handshake1 from `address` is taken (before its body is read): 0, or the status that refuses it. */
  handshakeStatus(address: string): number {
    if (this.keys.authHash() === undefined) return 403;
    return this.handshakes.admit(address) ? 0 : 429;
  }

  /** handshake1: the plug's seed and proof, and a new session waiting for its handshake2. */
  handshake1(c: KlapConnection, localSeed: Uint8Array): void {
    const authHash = this.keys.authHash();
    if (authHash === undefined) return c.fail(403);
    const remoteSeed = this.ports.random(KLAP_SEED_BYTES);
    const answer = klapHandshake1(this.ports.crypto, 1, localSeed, remoteSeed, authHash);
    if (answer === undefined) return c.fail(400);
    const cookie = this.ports.random(COOKIE_BYTES);
    const dropped = this.slots.admit(new Slot(cookie, localSeed, remoteSeed, authHash, this.now()));
    if (dropped !== undefined) this.log(`klap: session unused ${Math.round((this.now() - dropped.used) / 1000)} s closed for a new one: ${this.limits.klapSessions} kept`);
    c.respond(200, `Set-Cookie: TP_SESSIONID=${hexOf(cookie)};TIMEOUT=${this.limits.klapSessionSeconds}\r\n`, answer, null);
  }

  /** handshake2: the session is established when the client proves it knows the auth hash. */
  handshake2(c: KlapConnection, cookie: Uint8Array | null, body: Uint8Array): void {
    const slot = this.slots.find(cookie);
    if (slot === undefined || slot.session !== null || slot.localSeed === null || slot.remoteSeed === null) return c.fail(403);
    if (!this.slots.current(slot) || !klapHandshake2Valid(this.ports.crypto, 1, slot.localSeed, slot.remoteSeed, slot.authHash(), body)) {
      this.slots.remove(slot);
      this.log(`klap: handshake2 from ${c.address} refused: wrong credentials`);
      return c.fail(403);
    }
    slot.session = new KlapSession(this.ports.crypto, slot.localSeed, slot.remoteSeed, slot.authHash(), this.limits.maxFrameBytes);
    slot.localSeed = slot.remoteSeed = null;
    slot.used = this.now();
    c.respond(200, "", null, null);
  }

  /** The established session of this cookie (for the request's body bound), or undefined. */
  established(cookie: Uint8Array | null): KlapSession | undefined {
    const slot = this.slots.find(cookie);
    return slot !== undefined && slot.session !== null && this.slots.current(slot) ? slot.session : undefined;
  }

  /** A request: opened, dispatched, its answer sealed with the same seq. */
  request(c: KlapConnection, cookie: Uint8Array | null, body: Uint8Array, seq: number): void {
    const slot = this.slots.find(cookie);
    const session = slot?.session;
    if (slot === undefined || session === null || session === undefined || !this.slots.current(slot)) return c.fail(403);
    const plaintext = session.open(body, seq);
    if (typeof plaintext === "string") {
      this.log(`klap: request from ${c.address} refused (${plaintext})`);
      return c.fail(403);
    }
    slot.used = this.now();
    const kasa = this.kasa;
    const effects = new Effects(c.socket);
    let answer: Answer | Promise<Answer>;
    try {
      // The shape check runs before the dispatcher, not around it: no stack frame under every request.
      answer = kasa.shapeOk(plaintext) ? kasa.dispatcher.handle(plaintext, effects) : kasa.tooComplex;
    } catch (e) {
      return c.broken(e);
    }
    if (!(answer instanceof Promise)) return this.answer(c, session, seq, answer, effects);
    answer.then(
      (tree) => this.answer(c, session, seq, tree, effects),
      (e: unknown) => c.broken(e),
    );
  }

  /**
   * Answers with `answer`: its size, then its signature (a pass over it), then the connection writes
   * it as the socket has room (more passes, each writing its part): never whole in memory.
   */
  private answer(c: KlapConnection, session: KlapSession, seq: number, answer: Answer, effects: Effects): void {
    if (c.closed) return;
    const out = this.kasa.out;
    let signature: Uint8Array;
    let size: number;
    try {
      const bounded = boundedAnswer(out, answer, this.limits.klapMaxAnswerBytes, this.ports.log, "klap");
      answer = bounded.answer;
      size = bounded.size;
      signature = this.sealer.signature(out, answer, size, session, seq);
    } catch (e) {
      return c.broken(e);
    }
    c.stream(answer, size, session, seq, signature, effects);
  }
}

/** One HTTP connection: reads requests on bytes, answers each through the server, keeps it alive between them. */
class KlapConnection implements StreamHandler, Bounded {
  closed = false;
  private state = HEAD;
  /** The line being read (request line or header): only its first LINE_BYTES are kept. */
  private readonly line = new Uint8Array(LINE_BYTES);
  private lineFill = 0;
  private lineLong = false;
  /** Bytes of the request line and headers so far (0: waiting for a request). */
  private headBytes = 0;
  private route = 0;
  private seq = 0;
  private requestLine = false;
  private contentLength = -1;
  /** The TP_SESSIONID the request sent (16 bytes), or null. */
  private cookie: Uint8Array | null = null;
  /** The connection closes once this answer is out (HTTP/1.0, `Connection: close`, an error, the client's FIN). */
  private closeAfter = false;
  private ended = false;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  /** Monotonic ms when the request now arriving started, of the last answer written (or the accept), of the last part written. */
  private requestStart = 0;
  private lastRequest: number;
  private progress = 0;
  private requests = 0;
  /** The answer being written: its head, its body, how much of both is out, its effects. */
  private outHead: Uint8Array | null = null;
  private outBody: Uint8Array | null = null;
  private sent = 0;
  private effects: Effects | null = null;
  /** An answer's ciphertext, written after outHead and outBody (its signature) a part at a time: its tree, text size, session, seq, bytes. */
  private answer: Answer | null = null;
  private answerSize = 0;
  private session: KlapSession | null = null;
  private answerSeq = 0;
  private streamBytes = 0;

  /** The request is not KLAP's: where its bytes go (KlapServer.other's handler), and whether that was decided. */
  private handoff: StreamHandler | null = null;
  private decided = false;

  constructor(
    readonly socket: StreamSocket,
    private readonly server: KlapServer,
    /** The client's address (its handshake budget, the log). */
    readonly address: string,
  ) {
    this.lastRequest = server.now();
  }

  data(bytes: Uint8Array): void {
    if (this.handoff !== null) return this.handoff.data(bytes);
    let i = 0;
    while (i < bytes.length && !this.closed) {
      if (this.state === BUSY) {
        if (this.closeAfter) return; // (closing once its answer is out: the rest is not read)
        // a request sent before the answer to the last one was out (pipelining): not served
        this.server.log("klap: request before the last answer was out: closing connection");
        this.close(true);
        return;
      }
      if (this.state === HEAD) {
        if (this.headBytes === 0) this.requestStart = this.server.now();
        if (!this.requestLine && this.server.other !== undefined && this.handedOver(bytes, i)) return;
        const b = bytes[i++];
        if (++this.headBytes > this.server.limits.klapHeadBytes) return this.fail(431);
        if (b === LF) this.endLine();
        else if (this.lineFill < LINE_BYTES) this.line[this.lineFill++] = b;
        else this.lineLong = true;
      } else {
        const body = this.body as Uint8Array;
        const take = Math.min(body.length - this.bodyFill, bytes.length - i);
        body.set(bytes.subarray(i, i + take), this.bodyFill);
        this.bodyFill += take;
        i += take;
        if (this.bodyFill === body.length) this.serve();
      }
    }
  }

  /**
   * Whether the request now arriving is not KLAP's and went to the server's `other` (the owner's
   * page), told first the bytes of its line read so far and then bytes[i...]: decided as soon as the
   * line's path is known to start with /app/ or not, before the line ends (the owner's page's lines
   * are longer than LINE_BYTES), and only once (`decided`).
   */
  private handedOver(bytes: Uint8Array, i: number): boolean {
    if (this.decided) return false;
    const line = this.line;
    const n = this.lineFill;
    if (n === 0 || line[0] === CR) return false; // (an empty line before a request)
    const b = bytes[i];
    let sp = 0;
    while (sp < n && line[sp] !== SP) sp++;
    let klap: boolean;
    if (sp === n) {
      // still in the method: undecided while it goes on (or its space comes), not KLAP's when the line ends or it is too long
      if (b !== LF && b !== CR && n < METHOD_BYTES) return false;
      klap = false;
    } else {
      const path = n - sp - 1;
      if (path < 5 && b !== LF && b !== CR && b !== SP) return false; // too little of the path yet
      klap = path >= 5 && matches(line, sp + 1, n, "/app/", false);
    }
    this.decided = true;
    if (klap) return false;
    const server = this.server;
    const other = server.other as OtherRequests;
    server.connections.release(this);
    const handler = (this.handoff = other.accept(this.socket, this.address));
    const replay = new Uint8Array(n + bytes.length - i);
    replay.set(line.subarray(0, n), 0);
    replay.set(bytes.subarray(i), n);
    handler.data(replay);
    return true;
  }

  /** A line is complete: the request line, a header, or the empty line that ends the head. */
  private endLine(): void {
    let n = this.lineFill;
    if (n > 0 && this.line[n - 1] === CR) n--;
    const long = this.lineLong;
    this.lineFill = 0;
    this.lineLong = false;
    if (!this.requestLine) {
      if (n === 0 && !long) return; // (an empty line before a request is ignored, RFC 9112 2.2)
      if (long) return this.fail(431);
      return this.requestLineRead(n);
    }
    if (n === 0 && !long) return this.headRead();
    this.header(n, long);
  }

  /** `POST <path> HTTP/1.x`: the path names the route (404), the method must be POST (405). */
  private requestLineRead(n: number): void {
    const line = this.line;
    this.requestLine = true;
    let a = 0;
    while (a < n && line[a] !== SP) a++;
    let b = a + 1;
    while (b < n && line[b] !== SP) b++;
    if (b >= n || !matches(line, b + 1, n, "HTTP/1.", false) || n - b - 1 !== 8) return this.fail(400);
    const minor = line[n - 1];
    if (minor === 0x30) this.closeAfter = true;
    else if (minor !== 0x31) return this.fail(400);
    const at = a + 1;
    if (b - at === 15 && matches(line, at, b, "/app/handshake1", false)) this.route = ROUTE_HANDSHAKE1;
    else if (b - at === 15 && matches(line, at, b, "/app/handshake2", false)) this.route = ROUTE_HANDSHAKE2;
    else if (matches(line, at, b, "/app/request?seq=", false)) {
      // an optional minus and 1 to 10 digits (int32 is checked by the session: 403)
      let i = at + 17;
      const negative = i < b && line[i] === 0x2d;
      if (negative) i++;
      if (i === b || b - i > 10) return this.fail(400);
      let seq = 0;
      for (; i < b; i++) {
        const d = line[i] - 0x30;
        if (d < 0 || d > 9) return this.fail(400);
        seq = seq * 10 + d;
      }
      this.seq = negative ? -seq : seq;
      this.route = ROUTE_REQUEST;
    } else return this.fail(404);
    if (a !== 4 || !matches(line, 0, a, "POST", false)) return this.fail(405);
  }

  /** A header: only Content-Length, Cookie, Connection and Transfer-Encoding are read. */
  private header(n: number, long: boolean): void {
    const line = this.line;
    let colon = 0;
    while (colon < n && line[colon] !== 0x3a) colon++;
    if (colon === n) {
      if (long) return; // (a long header's name may be past what was kept: one we do not read)
      return this.fail(400);
    }
    const known =
      colon === 14 && matches(line, 0, colon, "content-length", true) ? 1
      : colon === 6 && matches(line, 0, colon, "cookie", true) ? 2
      : colon === 10 && matches(line, 0, colon, "connection", true) ? 3
      : colon === 17 && matches(line, 0, colon, "transfer-encoding", true) ? 4
      : 0;
    if (known === 0) return;
    if (long) return this.fail(431);
    let from = colon + 1;
    while (from < n && (line[from] === SP || line[from] === TAB)) from++;
    let to = n;
    while (to > from && (line[to - 1] === SP || line[to - 1] === TAB)) to--;
    if (known === 1) {
      if (this.contentLength !== -1 || to === from || to - from > 7) return this.fail(400);
      let length = 0;
      for (let i = from; i < to; i++) {
        const d = line[i] - 0x30;
        if (d < 0 || d > 9) return this.fail(400);
        length = length * 10 + d;
      }
      this.contentLength = length;
    } else if (known === 2) this.cookieRead(from, to);
    else if (known === 3) {
      for (let i = from; i + 5 <= to; i++) if (matches(line, i, to, "close", true)) this.closeAfter = true;
    } else return this.fail(400); // chunked or any other transfer coding: only Content-Length is read
  }

  /** `TP_SESSIONID=<32 hex digits>` among the cookies: its bytes, kept for the request. */
  private cookieRead(from: number, to: number): void {
    const line = this.line;
    for (let i = from; i < to; i++) {
      if (i > from && line[i - 1] !== SP && line[i - 1] !== 0x3b) continue;
      if (!matches(line, i, to, "TP_SESSIONID=", false)) continue;
      const at = i + 13;
      const end = at + 2 * COOKIE_BYTES;
      if (end > to || (end < to && line[end] !== 0x3b && line[end] !== SP)) return;
      const cookie = new Uint8Array(COOKIE_BYTES);
      if (!hexInto(line, at, cookie, COOKIE_BYTES)) return;
      this.cookie = cookie;
      return;
    }
  }

  /** The head is read: the body's length is checked against the route's bound before any of it is read. */
  private headRead(): void {
    const length = this.contentLength;
    if (length < 0) return this.fail(411);
    const server = this.server;
    if (this.route === ROUTE_HANDSHAKE1) {
      if (length > KLAP_SEED_BYTES) return this.fail(413);
      if (length !== KLAP_SEED_BYTES) return this.fail(400);
      const status = server.handshakeStatus(this.address);
      if (status !== 0) return this.fail(status);
    } else if (this.route === ROUTE_HANDSHAKE2) {
      if (length > KLAP_HANDSHAKE2_BYTES) return this.fail(413);
      if (length !== KLAP_HANDSHAKE2_BYTES) return this.fail(400);
    } else {
      const session = server.established(this.cookie);
      if (session === undefined) return this.fail(403);
      if (length > session.maxBodyBytes()) return this.fail(413);
    }
    this.body = new Uint8Array(length);
    this.bodyFill = 0;
    this.state = BODY;
    if (length === 0) this.serve();
  }

  /** The body is read: the server answers (at once, or when the dispatcher's promise settles). */
  private serve(): void {
    const body = this.body as Uint8Array;
    this.body = null;
    this.state = BUSY;
    this.requests++;
    const server = this.server;
    if (this.route === ROUTE_HANDSHAKE1) server.handshake1(this, body);
    else if (this.route === ROUTE_HANDSHAKE2) server.handshake2(this, this.cookie, body);
    else server.request(this, this.cookie, body, this.seq);
  }

  /** Answers `status` with no body and closes. */
  fail(status: number): void {
    this.closeAfter = true;
    this.respond(status, status === 405 ? "Allow: POST\r\n" : "", null, null);
  }

  /** Only the engine itself fails a request (out of memory): the connection is dropped. */
  broken(e: unknown): void {
    this.server.log(`klap: request failed: ${errorText(e)}`);
    this.close(true);
  }

  /** Writes a request's answer: the head, its signature, then its ciphertext, a pass for each part the socket takes. */
  stream(answer: Answer, size: number, session: KlapSession, seq: number, signature: Uint8Array, effects: Effects): void {
    if (this.closed) return;
    this.answer = answer;
    this.answerSize = size;
    this.session = session;
    this.answerSeq = seq;
    this.streamBytes = klapBodyBytes(size) - KLAP_SIGNATURE_BYTES;
    this.respond(200, "", signature, effects, this.streamBytes);
  }

  /** Writes an answer (as the socket has room); its effects run once it is out. */
  respond(status: number, headers: string, body: Uint8Array | null, effects: Effects | null, streamed = 0): void {
    if (this.closed) return;
    if (streamed === 0) this.streamBytes = 0;
    this.state = BUSY;
    this.body = null;
    const length = (body === null ? 0 : body.length) + streamed;
    this.outHead = utf8Encode(
      `HTTP/1.1 ${status} ${reason(status)}\r\n${body === null ? "" : "Content-Type: application/octet-stream\r\n"}Content-Length: ${length}\r\n` +
      `${headers}${this.closeAfter ? "Connection: close\r\n" : ""}\r\n`,
    );
    this.outBody = body;
    this.sent = 0;
    this.effects = effects;
    this.progress = this.server.now();
    this.resume();
  }

  private resume(): void {
    const head = this.outHead;
    if (head === null || this.closed) return;
    const body = this.outBody;
    const fixed = head.length + (body === null ? 0 : body.length);
    const total = fixed + this.streamBytes;
    let room = this.socket.room();
    while (room > 0 && this.sent < fixed) {
      const inHead = this.sent < head.length;
      const part = inHead ? head : (body as Uint8Array);
      const from = inHead ? this.sent : this.sent - head.length;
      const take = Math.min(room, part.length - from);
      this.socket.write(from === 0 && take === part.length ? part : part.subarray(from, from + take));
      this.sent += take;
      room -= take;
    }
    if (room > 0 && this.sent < total) {
      const from = this.sent - fixed;
      const to = room >= this.streamBytes - from ? this.streamBytes : from + room;
      try {
        this.server.sealer.send(this.server.kasa.out, this.answer as Answer, this.answerSize, this.session as KlapSession, this.answerSeq, this.socket, from, to);
      } catch (e) {
        return this.broken(e);
      }
      this.sent += to - from;
    }
    this.progress = this.server.now();
    if (this.sent < total) return;
    const effects = this.effects;
    this.outHead = this.outBody = null;
    this.answer = this.session = null;
    this.effects = null;
    if (this.closeAfter || this.ended) this.close(false);
    else this.next();
    effects?.run(this.server.ports.log);
  }

  /** Ready for the next request on this connection (keep-alive). */
  private next(): void {
    this.state = HEAD;
    this.headBytes = 0;
    this.lineFill = 0;
    this.lineLong = false;
    this.requestLine = false;
    this.route = 0;
    this.seq = 0;
    this.contentLength = -1;
    this.cookie = null;
    this.decided = false;
    this.lastRequest = this.server.now();
    this.socket.resume?.();
  }

  writable(): void {
    if (this.handoff !== null) return this.handoff.writable?.();
    this.resume();
  }

  accepting(): boolean {
    if (this.handoff !== null) return this.handoff.accepting?.() ?? true;
    return this.state !== BUSY && !this.closed;
  }

  end(): void {
    if (this.handoff !== null) return this.handoff.end();
    this.ended = true;
    if (this.state !== BUSY) this.close(false);
  }

  deadline(): number {
    const limits = this.server.limits;
    if (this.state === BUSY) return this.outHead !== null ? this.progress + limits.idleMs : 0;
    if (this.state === HEAD && this.headBytes === 0) return this.lastRequest + limits.idleMs;
    return this.requestStart + limits.frameDeadlineMs;
  }

  idleSince(): number {
    return this.lastRequest;
  }

  served(): number {
    return this.requests;
  }

  expire(why: Expiry): void {
    if (why === "late") this.server.log(this.outHead !== null ? "klap: client not reading its answer: closing connection" : this.headBytes > 0 ? "klap: request not finished in time: closing connection" : "klap: idle connection closed");
    else if (why === "evicted") this.server.log(`klap: connection idle ${Math.round((this.server.now() - this.lastRequest) / 1000)} s closed for a new client`);
    this.close(why !== "stopping");
  }

  close(abort: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.state = BUSY;
    this.outHead = this.outBody = this.body = null;
    this.answer = this.session = null;
    this.effects = null;
    this.server.connections.release(this);
    if (abort) this.socket.abort();
    else this.socket.close();
  }
}
