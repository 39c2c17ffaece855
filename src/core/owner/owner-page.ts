// The owner's page (issue 19): once the plug has joined its network, an HTTP page on the setup
// page's listener (port 80 on a device; on a device in the KLAP modes KLAP's listener hands it every
// request whose path is not /app/..., klap-server.ts) that only the owner can use: the relay, the
// name, the LED, power and today's energy, the rules, the presence lock's state, the firmware and
// its update, the recent log lines.
//
// Who: the owner's credentials that exist already (klap/owner.ts: kept only as KLAP v1's auth hash,
// md5(md5(username) + md5(password))). No password crosses the network, and nothing ambient
// authorizes a request (no cookie, nothing a cross-site page could make a browser send):
//
// - POST /owner/hello, body the client's 16-byte nonce in hex: 200 {"nonce": the plug's nonce,
//   "session": a session id} (both 16 random bytes, hex). No credentials set: 403. Over the log-in
//   budget of its address or of the plug (KLAP's handshake budgets, counted apart): 429.
// - POST /owner/login, body the session id then proof = SHA-256(client nonce | plug nonce | auth
//   hash), in hex: 200 and the session is established with key = SHA-256("owner" | plug nonce |
//   client nonce | auth hash); a wrong proof: 403, and that log-in is gone (another needs a hello,
//   which the budget counts: guessing online is slow).
// - Every action: POST /owner/<route>?s=<session id>&q=<seq>&m=<mac>, mac = SHA-256(key | route |
//   seq as 4 bytes big-endian | body) in hex, seq above the session's last (a request cannot be
//   replayed), the route's name in the MAC (a request cannot be moved to another route).
//   `kasa`: the body is a Kasa request (the same shape check and dispatcher as port 9999); its
//   answer is plain JSON, streamed as the Kasa server streams (JsonOut: never whole in memory).
//   `status`: what is not a Kasa method: the presence lock's state, the firmware's version and
//   update state, the recent log lines (log-ring.ts). `update`: the MAC covers the Content-Length
//   instead of the body (the image is signed by the owner's key itself: image.ts); the body is
//   streamed into the Updater (update/updater.ts), answered 200 {"status", "detail"} with its
//   verdict ("accepted": it restarts the plug into the image once the answer is out), or 409
//   {"status": "refused", "detail"} when it cannot take one (no slot, no key, busy, on trial: the
//   body is then read and dropped).
//
// A sniffer on the LAN sees everything after the log-in in clear (HTTP), and can try passwords
// offline against a log-in it saw (as against KLAP's handshake): the password must be strong
// (owner.ts). It cannot forge, replay or move a request: each one is MAC'd under a key it never sees.
//
// Cross-site requests are refused before anything is read of their body: the Host must be an IP
// literal or localhost (no DNS rebinding), a POST's Origin (or Referer) the page's own (portal.ts
// ownHost, fromPage); and a cross-site page has no key to MAC a request with anyway. The page is
// sent with a Content-Security-Policy allowing its one script by hash, frame-ancestors 'none'.
//
// HTTP/1.1, one request per connection (`Connection: close`), parsed on bytes: the head (request
// line and headers) into one buffer of at most limits.klapHeadBytes, the body into one array of the
// route's bound (hello 32, login 96, kasa limits.maxFrameBytes, status 0) or, for an update, straight
// through. Malformed input gets a 4xx and the connection closes; nothing throws. Connections are
// bounded (limits.ownerConnections, connections.ts) and timed (a head or a body that stops arriving
// for limits.frameDeadlineMs is dropped); sessions are bounded (limits.ownerSessions) and expire
// (KLAP's idle expiry and lifetime).
//
// Choices where the design left room, and why: one request per connection (a browser opens another
// for the next request on a LAN in a millisecond; no keep-alive state, no pipelining to guard, and
// a connection's buffers go with its answer); the log-in budget counts hellos (every guess needs
// one); the status is a MAC'd POST like any action (the lock's state and the log are the owner's
// business only); the seq is at most 2^31 - 1 (the MAC covers 4 bytes of it: a larger number must
// not alias a used one); the page keeps the session's key in a variable (a reload logs out: nothing
// in storage another script of the origin could read later).

import type { CryptoPort, LogPort, RandomPort, StreamHandler, StreamSocket, TcpListenerPort, TimerPort } from "../../ports/ports.js";
import type { Limits } from "../limits.js";
import { ConnectionSet, REFUSED, type Bounded, type Expiry } from "../protocol/connections.js";
import type { PlugContext } from "../protocol/context.js";
import type { Answer } from "../protocol/dispatcher.js";
import { errorText } from "../protocol/errors.js";
import { boundedAnswer, Effects, type KasaServer } from "../protocol/server.js";
import type { ByteSink, JsonOut } from "../protocol/wire/json-out.js";
import { utf8Encode } from "../protocol/wire/utf8.js";
import { INITIAL_KEY } from "../protocol/wire/xor.js";
import { CRLF2, fromPage, indexOf, ownHost, parseHead } from "../onboarding/portal.js";
import { UPDATE_REFUSALS, type UpdateReceiver, type UpdateStatus } from "../update/image.js";
import { reason, type KlapKeys } from "../klap/klap-server.js";
import { HandshakeBudget, hexInto, hexOf, matches, sameAt, seqInto, SESSION_ID_BYTES, SessionTable, type Keyed } from "../klap/sessions.js";
import type { LogRing } from "./log-ring.js";
import { OWNER_PAGE, OWNER_PAGE_HEAD } from "./page.js";

export interface OwnerPorts {
  crypto: CryptoPort;
  random: RandomPort;
  /** The plug's limited log. */
  log: LogPort;
  timers: TimerPort;
  /** Monotonic milliseconds. */
  now: () => number;
}

/** The client's and the plug's nonces. */
export const NONCE_BYTES = 16;
/** A session's key, a proof and a MAC: SHA-256's. */
const KEY_BYTES = 32;
const HASH_BYTES = 32;
/** The largest seq a request may have (the page counts from 1). */
const MAX_SEQ = 0x7fffffff;

const PAGE = 1;
const HELLO = 2;
const LOGIN = 3;
const KASA = 4;
const STATUS = 5;
const UPDATE = 6;

/** The authenticated routes' names, as the MAC covers them (indexed by route). */
const ROUTE_NAMES: readonly string[] = Object.freeze(["", "", "", "", "kasa", "status", "update"]);

const HEAD = 0;
const BODY = 1;
const BUSY = 2;

/** What an answer's body is: nothing, the page's text, or a JSON tree. */
const NO_BODY = 0;
const PAGE_BODY = 1;
const TREE_BODY = 2;

/** A JSON answer's header lines. */
const JSON_FIELDS = "Content-Type: application/json\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";


/**
 * One session: its id, the two nonces, its key once established, and the auth hash it was made
 * with (credentials changed since: it is gone), in one array; when it was made and last used; the
 * last seq it took.
 */
class Session implements Keyed {
  readonly bytes = new Uint8Array(SESSION_ID_BYTES + 2 * NONCE_BYTES + KEY_BYTES + 16);
  /** The log-in's proof was right: the key is set. */
  loggedIn = false;
  used: number;
  seq = 0;
  constructor(id: Uint8Array, clientNonce: Uint8Array, plugNonce: Uint8Array, authHash: Uint8Array, readonly created: number) {
    this.used = created;
    this.bytes.set(id, 0);
    this.bytes.set(clientNonce, SESSION_ID_BYTES);
    this.bytes.set(plugNonce, SESSION_ID_BYTES + NONCE_BYTES);
    this.bytes.set(authHash, SESSION_ID_BYTES + 2 * NONCE_BYTES + KEY_BYTES);
  }
  clientNonce(): Uint8Array {
    return this.bytes.subarray(SESSION_ID_BYTES, SESSION_ID_BYTES + NONCE_BYTES);
  }
  plugNonce(): Uint8Array {
    return this.bytes.subarray(SESSION_ID_BYTES + NONCE_BYTES, SESSION_ID_BYTES + 2 * NONCE_BYTES);
  }
  key(): Uint8Array {
    return this.bytes.subarray(SESSION_ID_BYTES + 2 * NONCE_BYTES, SESSION_ID_BYTES + 2 * NONCE_BYTES + KEY_BYTES);
  }
  authHash(): Uint8Array {
    return this.bytes.subarray(SESSION_ID_BYTES + 2 * NONCE_BYTES + KEY_BYTES);
  }
  established(): boolean {
    return this.loggedIn;
  }
}

/** Thrown by PlainSink once the part a pass was to write is out, caught in `send`. */
const PART_WRITTEN: object = Object.freeze({});

/**
 * Writes a JSON answer as plain text: JsonOut's write pass autokey-encrypts as it writes (the Kasa
 * port's cipher), undone here in its buffer, and only bytes [from, to) go to the socket. One per page.
 */
class PlainSink implements ByteSink {
  private prev = INITIAL_KEY;
  private at = 0;
  private from = 0;
  private to = 0;
  private socket: StreamSocket | null = null;

  send(out: JsonOut, answer: unknown, size: number, socket: StreamSocket, from: number, to: number): void {
    this.prev = INITIAL_KEY;
    this.at = 0;
    this.from = from;
    this.to = to;
    this.socket = socket;
    try {
      out.stream(answer, size, this);
    } catch (e) {
      if (e !== PART_WRITTEN) throw e;
    } finally {
      this.socket = null;
    }
  }

  write(bytes: Uint8Array): void {
    let prev = this.prev;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      bytes[i] = c ^ prev; // (JsonOut's own buffer, rewritten by it next: the key runs on in JsonOut)
      prev = c;
    }
    this.prev = prev;
    const start = this.at;
    const end = (this.at = start + bytes.length);
    const a = this.from > start ? this.from - start : 0;
    const b = this.to < end ? this.to - start : bytes.length;
    if (a < b) (this.socket as StreamSocket).write(bytes.subarray(a, b));
    if (end >= this.to) throw PART_WRITTEN;
  }
}

export class OwnerPage {
  private http: TcpListenerPort | null = null;
  readonly connections: ConnectionSet<OwnerConnection>;
  private readonly sessions: SessionTable<Session>;
  /** Log-in budgets (hellos), per client address and for the whole plug: KLAP's numbers, counted apart. */
  private readonly logins: HandshakeBudget;
  readonly sink = new PlainSink();
  /** The page's text goes out through this (its pieces are ASCII: copied in, a part at a time). */
  readonly chunk: Uint8Array;

  constructor(
    readonly ports: OwnerPorts,
    readonly context: PlugContext,
    readonly kasa: KasaServer,
    readonly keys: KlapKeys,
    readonly ring: LogRing | undefined,
    readonly limits: Limits,
  ) {
    this.connections = new ConnectionSet<OwnerConnection>(ports.timers, ports.now, limits.ownerConnections);
    this.sessions = new SessionTable<Session>(keys, ports.now, limits, limits.ownerSessions);
    this.logins = new HandshakeBudget(limits, ports.now, ports.log, "owner page", "log-in");
    this.chunk = new Uint8Array(limits.answerBufferBytes);
  }

  get isOpen(): boolean {
    return this.http !== null;
  }

  /** Serves the page on this listener (the setup page's, once it is closed). */
  open(http: TcpListenerPort): void {
    if (this.http !== null) return;
    this.http = http;
    http.listen(this.accept.bind(this));
  }

  /** Stops listening (when it listens itself) and drops every connection; the sessions stay. */
  close(): void {
    this.connections.clear();
    this.http?.close();
    this.http = null;
  }

  /** Forgets every session. */
  stop(): void {
    this.close();
    this.sessions.clear();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  now(): number {
    return this.ports.now();
  }

  log(line: string): void {
    this.ports.log(line);
  }

  /** A new connection (from its own listener, or handed over by KLAP's: klap-server.ts). */
  accept(socket: StreamSocket, address: string): StreamHandler {
    if (!this.connections.makeRoom()) {
      this.log(`owner page: connection refused: all ${this.limits.ownerConnections} open are busy answering`);
      socket.close();
      return REFUSED;
    }
    const connection = new OwnerConnection(socket, this, address);
    this.connections.admit(connection);
    return connection;
  }

  /** Whether a hello from `address` is taken (before its body is read): 0, or the status that refuses it. */
  helloStatus(address: string): number {
    if (this.keys.authHash() === undefined) return 403;
    return this.logins.admit(address) ? 0 : 429;
  }

  /** hello: a new session waiting for its proof; answers the plug's nonce and the session's id. */
  hello(c: OwnerConnection, body: Uint8Array): void {
    const authHash = this.keys.authHash();
    if (authHash === undefined) return c.refuse(403, "no owner credentials set");
    const clientNonce = new Uint8Array(NONCE_BYTES);
    if (body.length !== 2 * NONCE_BYTES || !hexInto(body, 0, clientNonce, NONCE_BYTES)) return c.fail(400);
    const plugNonce = this.ports.random(NONCE_BYTES);
    const id = this.ports.random(SESSION_ID_BYTES);
    this.sessions.admit(new Session(id, clientNonce, plugNonce, authHash, this.now()));
    c.answer(200, { nonce: hexOf(plugNonce), session: hexOf(id) }, null);
  }

  /** login: the session is established when the proof is right; else it is gone. */
  login(c: OwnerConnection, body: Uint8Array): void {
    const id = new Uint8Array(SESSION_ID_BYTES);
    const proof = new Uint8Array(HASH_BYTES);
    if (body.length !== 2 * (SESSION_ID_BYTES + HASH_BYTES) || !hexInto(body, 0, id, SESSION_ID_BYTES) || !hexInto(body, 2 * SESSION_ID_BYTES, proof, HASH_BYTES)) return c.fail(400);
    const session = this.sessions.find(id);
    if (session === undefined || session.loggedIn) return c.refuse(403, "no such log-in: start again");
    const crypto = this.ports.crypto;
    const expected = crypto.sha256(session.clientNonce(), session.plugNonce(), session.authHash());
    if (!this.sessions.current(session) || !sameAt(proof, 0, expected)) {
      this.sessions.remove(session);
      this.log(`owner page: log-in from ${c.address} refused: wrong credentials`);
      return c.refuse(403, "wrong username or password");
    }
    session.key().set(crypto.sha256(utf8Encode("owner"), session.plugNonce(), session.clientNonce(), session.authHash()));
    session.bytes.fill(0, SESSION_ID_BYTES, SESSION_ID_BYTES + 2 * NONCE_BYTES); // (the nonces are not needed any more)
    session.loggedIn = true;
    session.used = this.now();
    this.log(`owner page: logged in from ${c.address}`);
    c.answer(200, {}, null);
  }

  /**
   * The session of this request when `mac` is SHA-256(key | route | seq | tail) under it and `seq`
   * is above its last (then it becomes its last); else undefined.
   */
  authenticate(id: Uint8Array, seq: number, mac: Uint8Array, route: number, tail: Uint8Array): Session | undefined {
    const session = this.sessions.find(id);
    if (session === undefined || !session.loggedIn || !this.sessions.current(session) || seq <= session.seq) return undefined;
    const q = new Uint8Array(4);
    seqInto(q, 0, seq);
    const expected = this.ports.crypto.sha256(session.key(), utf8Encode(ROUTE_NAMES[route]), q, tail);
    if (!sameAt(mac, 0, expected)) return undefined;
    session.seq = seq;
    session.used = this.now();
    return session;
  }

  /** A Kasa request: the shape check, the dispatcher, its answer streamed once it is known. */
  kasaRequest(c: OwnerConnection, body: Uint8Array): void {
    const kasa = this.kasa;
    const effects = new Effects(c.socket);
    let answer: Answer | Promise<Answer>;
    try {
      answer = kasa.shapeOk(body) ? kasa.dispatcher.handle(body, effects) : kasa.tooComplex;
    } catch (e) {
      return c.broken(e);
    }
    if (!(answer instanceof Promise)) return c.answer(200, answer, effects);
    answer.then(
      (tree) => c.answer(200, tree, effects),
      (e: unknown) => c.broken(e),
    );
  }

  /**
   * What is not a Kasa method: the presence lock, the firmware's version and whether an update can be
   * sent (the updater's state, and why not or how the last one went), the recent log lines.
   */
  status(c: OwnerConnection): void {
    const presence = this.context.presence;
    const updater = this.context.updater;
    c.answer(200, {
      lock: !presence.enabled ? "off" : presence.unlocked() ? "open" : "locked",
      firmware: updater?.version ?? "",
      update: updater?.state() ?? "off",
      detail: updater === undefined ? "" : updater.unavailable() || updater.last,
      log: this.ring ?? "",
    }, null);
  }

  /** Where an update's body goes: the updater's receiver, or why there is none (the body is then read and dropped). */
  receive(length: number): UpdateReceiver | string {
    const updater = this.context.updater;
    return updater === undefined ? "this plug cannot be updated over the network" : updater.receive(length);
  }

  /** The image is all written: the updater's verdict (an accepted one restarts the plug once its answer is out). */
  finish(receiver: UpdateReceiver): UpdateStatus {
    return this.context.updater!.finish(receiver);
  }

  /** The upload broke off: the updater drops it. */
  cancel(receiver: UpdateReceiver): void {
    this.context.updater?.cancel(receiver);
  }
}

/** One HTTP connection: one request, read on bytes, answered, then closed. */
class OwnerConnection implements StreamHandler, Bounded {
  closed = false;
  private state = HEAD;
  private head: Uint8Array | null = new Uint8Array(256);
  private fill = 0;
  private readonly opened: number;
  /** When bytes last arrived or went out. */
  private progress: number;
  private route = 0;
  private readonly id = new Uint8Array(SESSION_ID_BYTES);
  private seq = 0;
  private readonly mac = new Uint8Array(HASH_BYTES);
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  /** An update's body bytes still to come, and where they go (a receiver, or dropped after a refusal). */
  private remaining = 0;
  private receiver: UpdateReceiver | null = null;
  private refusal = "";
  /** The answer: its head, its body (nothing, the page, a tree), how much of each is out. */
  private outHead: Uint8Array | null = null;
  private sent = 0;
  private kind = NO_BODY;
  private tree: unknown = null;
  private size = 0;
  private bodySent = 0;
  private piece = 0;
  private effects: Effects | null = null;

  constructor(
    readonly socket: StreamSocket,
    private readonly page: OwnerPage,
    readonly address: string,
  ) {
    this.opened = this.progress = page.now();
  }

  data(bytes: Uint8Array): void {
    if (this.closed || this.state === BUSY) return; // (one request a connection: what follows it is not read)
    this.progress = this.page.now();
    let at = 0;
    if (this.state === HEAD) {
      at = this.headData(bytes);
      if (at < 0 || (this.state as number) !== BODY) return;
    }
    if (at < bytes.length) this.bodyData(at === 0 ? bytes : bytes.subarray(at));
  }

  /** Head bytes: kept (bounded) until the blank line; returns where the body starts in `bytes`, or -1 while the head goes on. */
  private headData(bytes: Uint8Array): number {
    const max = this.page.limits.klapHeadBytes;
    let head = this.head as Uint8Array;
    const take = Math.min(bytes.length, max - this.fill);
    if (this.fill + take > head.length) {
      const bigger = new Uint8Array(Math.min(max, Math.max(head.length * 2, this.fill + take)));
      bigger.set(head.subarray(0, this.fill));
      this.head = head = bigger;
    }
    head.set(take === bytes.length ? bytes : bytes.subarray(0, take), this.fill);
    const before = this.fill;
    this.fill += take;
    const end = indexOf(head.subarray(0, this.fill), CRLF2, before > 3 ? before - 3 : 0);
    if (end < 0) {
      if (this.fill >= max) this.fail(431);
      return -1;
    }
    this.headRead(head, end);
    this.head = null;
    return end + 4 - before;
  }

  /** The head is read: route, checks, and what its body needs, before any of the body is read. */
  private headRead(bytes: Uint8Array, end: number): void {
    const page = this.page;
    const h = parseHead(bytes, end);
    if (h === undefined) return this.fail(400);
    if (h.transferEncoding) return this.fail(411); // (only Content-Length delimits a body here)
    const at = h.pathAt;
    const stop = bytes.indexOf(32, at);
    const route = (this.route = routeOf(bytes, at, stop));
    if (route === 0) return this.fail(404);
    const get = h.method === "GET" || h.method === "HEAD";
    if (route === PAGE ? !get : h.method !== "POST") return this.fail(405);
    if (!ownHost(h.host)) {
      page.log("owner page: refused a request under a name (open it at the plug's address)");
      return this.refuse(403, "open this page at the plug's IP address");
    }
    if (route === PAGE) {
      if (h.method === "HEAD") return this.respond(200, OWNER_PAGE_HEAD, NO_BODY);
      return this.respond(200, OWNER_PAGE_HEAD, PAGE_BODY);
    }
    if (!fromPage(h)) {
      page.log("owner page: refused a request sent from another site (nothing changed)");
      return this.refuse(403, "not sent from the owner's page");
    }
    const length = h.contentLength;
    if (route >= KASA && !this.query(bytes, at + ROUTE_PATHS[route].length, stop)) return this.fail(400);
    if (route === HELLO) {
      if (length !== 2 * NONCE_BYTES) return this.fail(length > 2 * NONCE_BYTES ? 413 : 400);
      const status = page.helloStatus(this.address);
      if (status === 403) return this.refuse(403, "no owner credentials set");
      if (status !== 0) return this.fail(status);
    } else if (route === LOGIN) {
      if (length !== 2 * (SESSION_ID_BYTES + HASH_BYTES)) return this.fail(length > 2 * (SESSION_ID_BYTES + HASH_BYTES) ? 413 : 400);
    } else if (route === KASA) {
      if (length === 0) return this.fail(400);
      if (length > page.limits.maxFrameBytes) return this.fail(413);
    } else if (route === STATUS) {
      if (length !== 0) return this.fail(413);
    } else {
      // UPDATE: authenticated now, on its length; its body then goes straight through
      if (length === 0) return this.fail(411);
      if (page.authenticate(this.id, this.seq, this.mac, UPDATE, utf8Encode(String(length))) === undefined) return this.unauthorized();
      const r = page.receive(length);
      if (typeof r === "string") this.refusal = r;
      else this.receiver = r;
      page.log(`owner page: update of ${length} bytes from ${this.address}${typeof r === "string" ? ` refused: ${r}` : ""}`); // (the updater logs its verdict)
      this.remaining = length;
      this.state = BODY;
      return;
    }
    this.body = new Uint8Array(length);
    this.bodyFill = 0;
    this.state = BODY;
    if (length === 0) this.serve();
  }

  /** `?s=<32 hex>&q=<1-10 digits>&m=<64 hex>`, exactly, in bytes[at, stop). */
  private query(bytes: Uint8Array, at: number, stop: number): boolean {
    if (!matches(bytes, at, stop, "?s=", false) || !hexInto(bytes, at + 3, this.id, SESSION_ID_BYTES)) return false;
    let i = at + 3 + 2 * SESSION_ID_BYTES;
    if (!matches(bytes, i, stop, "&q=", false)) return false;
    i += 3;
    let seq = 0;
    const from = i;
    while (i < stop && bytes[i] >= 0x30 && bytes[i] <= 0x39 && i - from < 10) seq = seq * 10 + (bytes[i++] - 0x30);
    // (at most 2^31 - 1: the MAC covers 4 bytes of it, and a larger number must not alias a smaller one's MAC)
    if (i === from || seq > MAX_SEQ || !matches(bytes, i, stop, "&m=", false) || !hexInto(bytes, i + 3, this.mac, HASH_BYTES)) return false;
    this.seq = seq;
    return i + 3 + 2 * HASH_BYTES === stop;
  }

  private bodyData(bytes: Uint8Array): void {
    if (this.route === UPDATE) {
      const n = Math.min(this.remaining, bytes.length);
      this.remaining -= n;
      if (this.receiver !== null) this.receiver.write(n === bytes.length ? bytes : bytes.subarray(0, n));
      if (this.remaining === 0) this.updateRead();
      return;
    }
    const body = this.body as Uint8Array;
    const take = Math.min(body.length - this.bodyFill, bytes.length);
    body.set(take === bytes.length ? bytes : bytes.subarray(0, take), this.bodyFill);
    this.bodyFill += take;
    if (this.bodyFill === body.length) this.serve();
  }

  /** The update's body is all in: the updater's verdict (or the refusal said before it came). */
  private updateRead(): void {
    this.state = BUSY;
    const receiver = this.receiver;
    this.receiver = null;
    if (receiver === null) return this.answer(409, { status: "refused", detail: this.refusal }, null);
    const status = this.page.finish(receiver);
    const detail = status === "accepted" ? "the plug restarts into it" : status === "receiving" ? "" : UPDATE_REFUSALS[status];
    this.answer(200, { status, detail }, null); // (the verdict, accepted or not: 200; a refusal before the body: 409)
  }

  /** The body is read: the page answers. */
  private serve(): void {
    const body = this.body as Uint8Array;
    this.body = null;
    this.state = BUSY;
    const page = this.page;
    const route = this.route;
    if (route === HELLO) return page.hello(this, body);
    if (route === LOGIN) return page.login(this, body);
    if (page.authenticate(this.id, this.seq, this.mac, route, body) === undefined) return this.unauthorized();
    if (route === KASA) return page.kasaRequest(this, body);
    page.status(this);
  }

  private unauthorized(): void {
    this.page.log(`owner page: request from ${this.address} refused: no session, or a wrong MAC or seq`);
    this.refuse(403, "not logged in, or the session ended: log in again");
  }

  /** A short refusal with a JSON reason (the page shows it). */
  refuse(status: number, why: string): void {
    this.answer(status, { error: why }, null);
  }

  /** Answers `status` with no body. */
  fail(status: number): void {
    this.respond(status, "", NO_BODY);
  }

  /** Only the engine itself fails a request (out of memory): the connection is dropped. */
  broken(e: unknown): void {
    this.page.log(`owner page: request failed: ${errorText(e)}`);
    this.close(true);
  }

  /** A JSON answer (bounded as KLAP's: boundedAnswer), streamed; its effects run once it is out. */
  answer(status: number, tree: unknown, effects: Effects | null): void {
    if (this.closed) return;
    const page = this.page;
    try {
      const bounded = boundedAnswer(page.kasa.out, tree as Answer, page.limits.klapMaxAnswerBytes, page.ports.log, "owner page");
      this.tree = bounded.answer;
      this.size = bounded.size;
    } catch (e) {
      return this.broken(e);
    }
    this.effects = effects;
    this.respond(status, JSON_FIELDS, TREE_BODY);
  }

  /** Starts writing an answer: its status line, `fields` (header lines), its length, then its body. */
  private respond(status: number, fields: string, kind: number): void {
    if (this.closed) return;
    this.state = BUSY;
    this.head = this.body = null;
    if (this.receiver !== null) this.page.cancel(this.receiver);
    this.receiver = null;
    const length = kind === TREE_BODY ? this.size : kind === PAGE_BODY || fields === OWNER_PAGE_HEAD ? pageBytes() : 0;
    this.outHead = utf8Encode(`HTTP/1.1 ${status} ${reason(status)}\r\n${fields}Connection: close\r\nContent-Length: ${length}\r\n\r\n`);
    this.kind = kind;
    this.sent = this.bodySent = this.piece = 0;
    this.progress = this.page.now();
    this.pump();
  }

  /** Writes the answer on, within the socket's room; closes at its end and runs its effects. */
  private pump(): void {
    const head = this.outHead;
    if (head === null || this.closed) return;
    const socket = this.socket;
    for (;;) {
      const room = socket.room();
      if (room <= 0) return;
      if (this.sent < head.length) {
        const take = Math.min(room, head.length - this.sent);
        socket.write(this.sent === 0 && take === head.length ? head : head.subarray(this.sent, this.sent + take));
        this.sent += take;
      } else if (this.kind === PAGE_BODY && this.piece < OWNER_PAGE.length) {
        const text = OWNER_PAGE[this.piece];
        const chunk = this.page.chunk;
        const n = Math.min(room, chunk.length, text.length - this.bodySent);
        for (let i = 0; i < n; i++) chunk[i] = text.charCodeAt(this.bodySent + i); // (ASCII: its own bytes)
        socket.write(chunk.subarray(0, n));
        this.bodySent += n;
        if (this.bodySent === text.length) {
          this.piece++;
          this.bodySent = 0;
        }
      } else if (this.kind === TREE_BODY && this.bodySent < this.size) {
        const to = room >= this.size - this.bodySent ? this.size : this.bodySent + room;
        try {
          this.page.sink.send(this.page.kasa.out, this.tree, this.size, socket, this.bodySent, to);
        } catch (e) {
          return this.broken(e);
        }
        this.bodySent = to;
      } else break;
      this.progress = this.page.now();
    }
    const effects = this.effects;
    this.effects = null;
    this.tree = null;
    this.outHead = null;
    this.close(false);
    effects?.run(this.page.ports.log);
  }

  writable(): void {
    this.pump();
  }

  end(): void {
    if (this.outHead === null || this.state !== BUSY) this.close(false);
  }

  deadline(): number {
    const limits = this.page.limits;
    if (this.state === BUSY) return this.outHead !== null ? this.progress + limits.idleMs : 0;
    return this.progress + limits.frameDeadlineMs;
  }

  idleSince(): number {
    return this.opened;
  }

  served(): number {
    return this.state === BUSY ? 1 : 0;
  }

  expire(why: Expiry): void {
    if (why === "late") this.page.log(this.outHead !== null ? "owner page: client not reading its answer: closing connection" : "owner page: request not finished in time: closing connection");
    this.close(why !== "stopping");
  }

  close(abort: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.state = BUSY;
    if (this.receiver !== null) this.page.cancel(this.receiver); // a broken upload: the slot is dropped
    this.receiver = null;
    this.head = this.body = this.outHead = null;
    this.tree = null;
    this.effects = null;
    this.page.connections.release(this);
    if (abort) this.socket.abort();
    else this.socket.close();
  }
}

/** The routes' paths (indexed by route): the page's "/", then the API's. */
const ROUTE_PATHS: readonly string[] = Object.freeze(["", "/", "/owner/hello", "/owner/login", "/owner/kasa", "/owner/status", "/owner/update"]);

/** The route of the path in bytes[at, stop): the page (with or without a query), an API route (a query only where it takes one), or 0. */
function routeOf(bytes: Uint8Array, at: number, stop: number): number {
  if (stop < 0) return 0;
  if (stop - at === 1 || (stop - at > 1 && bytes[at + 1] === 0x3f)) return bytes[at] === 0x2f ? PAGE : 0; // "/" or "/?..."
  for (let r = HELLO; r <= UPDATE; r++) {
    const path = ROUTE_PATHS[r];
    if (!matches(bytes, at, stop, path, false)) continue;
    const next = at + path.length;
    if (r < KASA ? next === stop : next < stop && bytes[next] === 0x3f) return r;
  }
  return 0;
}

/** The page's length in bytes (ASCII: its characters). */
function pageBytes(): number {
  let n = 0;
  for (let i = 0; i < OWNER_PAGE.length; i++) n += OWNER_PAGE[i].length;
  return n;
}
