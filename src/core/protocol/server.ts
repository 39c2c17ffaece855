// Serves the Kasa protocol on the network ports: TCP 9999 with streaming framing and any number of
// sequential requests per connection, and UDP 9999 datagrams answered unicast from the same port.
// Answers are streamed: the dispatcher's answer tree is written as JSON straight into the socket
// through one small buffer per server (wire/json-out.ts), never as one string or one frame.
// Everything a client can make it hold is bounded (limits.ts): connections (at the bound the one idle
// longest makes room for a new client: connections.ts), their idle and frame deadlines, frame size,
// JSON depth and members, answer output left unsent, and UDP answers: bytes per sender address and
// for the whole plug, and one datagram's length at most (limits.ts, udpBudgets). A UDP port that
// cannot be listened on leaves the plug serving TCP without discovery.

import type { DatagramPort, LogPort, StreamHandler, StreamSocket, TcpListenerPort, TimerPort } from "../../ports/ports.js";
import { ConnectionSet, REFUSED, type Bounded, type Expiry } from "./connections.js";
import type { Answer, Dispatcher, RequestContext } from "./dispatcher.js";
import { errorText } from "./errors.js";
import { udpAdmit, udpBudgets, udpSpend, type Limits } from "../limits.js";
import { FrameDecoder, HEADER_BYTES } from "./wire/frame.js";
import { JsonOut, Members } from "./wire/json-out.js";
import { jsonWithin } from "./wire/json-shape.js";
import { decrypt } from "./wire/xor.js";

/** Requests one connection may have waiting for their answers; a client pipelining more is closed. */
export const MAX_QUEUED_FRAMES = 8;

/** Collects the effects a request wants run once its answer is out. */
export class Effects implements RequestContext {
  private list: (() => void)[] | null = null;
  /** Set on a request from a client of the setup network only: no slot for it in every other request's. */
  declare setupClient?: boolean;

  constructor(
    /** Where the request came from: its connection's socket, or a datagram's source address. */
    private readonly source: StreamSocket | string,
  ) {}

  /** The client's address, for the log (asked of the socket only when a line needs it). */
  get client(): string {
    const source = this.source;
    return typeof source === "string" ? source : source.peer?.() ?? "?";
  }

  afterReply(effect: () => void): void {
    (this.list ??= []).push(effect);
  }

  run(log: LogPort): void {
    if (this.list === null) return;
    for (const effect of this.list) {
      try {
        effect();
      } catch (e) {
        log(`after-reply effect failed: ${errorText(e)}`);
      }
    }
  }
}

class Connection implements StreamHandler, Bounded {
  private readonly decoder: FrameDecoder;
  private readonly queue: Uint8Array[] = [];
  private busy = false;
  private ended = false;
  private closed = false;
  /** Monotonic ms of the last complete request (or of the accept). */
  private lastRequest: number;
  /** Complete requests received. */
  private requests = 0;
  /** Monotonic ms when the frame now arriving started; 0 when none is. */
  private frameStart = 0;
  /** A frame completed during the current `data` call. A field, not a local: see `data`. */
  private completed = false;
  /**
   * The answer being written while the socket has less room than it (busy until it is out): the
   * tree, its size pass, the frame bytes out so far, its effects, and when the last part went out.
   * Written a part at a time (`resume`), none of it waits in memory for a slow client.
   */
  private answer: Answer | null = null;
  private answerSize = 0;
  private answerSent = 0;
  private effects: Effects | null = null;
  private progress = 0;

  constructor(
    private readonly socket: StreamSocket,
    private readonly server: KasaServer,
    /** A client of the setup network (RequestContext.setupClient). */
    private readonly setupClient: boolean,
  ) {
    this.decoder = new FrameDecoder(server.limits.maxFrameBytes);
    this.lastRequest = server.now();
  }

  // Every request is answered under this frame (data, then pump, then the dispatcher), so it keeps
  // no locals beyond `ok`: on an ESP8266 the whole XS stack is 256 slots.
  data(bytes: Uint8Array): void {
    if (this.closed) return;
    this.completed = false;
    // (decoding stops at the first request over the bound: a burst of small frames in one read
    // must not become that many plaintexts held at once)
    const ok = this.decoder.feed(bytes, (plaintext) => {
      this.requests++;
      this.completed = true;
      return this.queue.push(plaintext) <= MAX_QUEUED_FRAMES;
    });
    if (!ok || this.queue.length > MAX_QUEUED_FRAMES) {
      this.server.log(this.queue.length > MAX_QUEUED_FRAMES ? "too many queued requests: closing connection" : "frame too large: closing connection");
      this.queue.length = 0;
      this.close();
      return;
    }
    if (this.completed) this.lastRequest = this.server.now();
    // A frame still arriving started now if it is new (none was, or one just completed before it).
    if (!this.decoder.pending) this.frameStart = 0;
    else if (this.frameStart === 0 || this.completed) this.frameStart = this.server.now();
    this.pump();
  }

  deadline(): number {
    // an answer the client does not take: its time; else the plug owes an answer: not the client's time
    if (this.answer !== null) return this.progress + this.server.limits.idleMs;
    if (this.busy || this.queue.length > 0) return 0;
    const { idleMs, frameDeadlineMs } = this.server.limits;
    return this.frameStart > 0 ? this.frameStart + frameDeadlineMs : this.lastRequest + idleMs;
  }

  idleSince(): number {
    return this.lastRequest;
  }

  served(): number {
    return this.requests;
  }

  expire(why: Expiry): void {
    if (why === "late") {
      this.server.log(
        this.answer !== null ? "client not reading its answer: closing connection" : this.frameStart > 0 ? "frame not finished in time: closing connection" : "idle connection closed",
      );
    }
    else if (why === "evicted") {
      const idle = Math.round((this.server.now() - this.lastRequest) / 1000);
      this.server.log(`connection idle ${idle} s (${this.requests} requests) closed for a new client: ${this.server.limits.maxConnections} open`);
    }
    this.queue.length = 0;
    // Dropped for idleness or a stalled frame: answers it left unread go with it (else a client that
    // never reads would leave them held, up to maxUnsentBytes, after every round).
    this.close(why !== "stopping");
  }

  end(): void {
    this.ended = true;
    if (!this.busy && this.queue.length === 0) this.close();
  }

  /** More requests are read only once every one read is answered (a client cannot make the plug hold its backlog). */
  accepting(): boolean {
    return !this.busy && this.queue.length === 0 && !this.closed;
  }

  /** The socket has room again: the next part of the answer being written, then the next requests. */
  writable(): void {
    if (this.answer === null) return;
    this.resume();
    if (!this.busy) this.pump();
  }

  /** Answers the queued requests in order; a loop, not recursion, so that pipelined frames cost no stack. */
  private pump(): void {
    while (!this.busy && !this.closed) {
      const next = this.queue.shift();
      if (next === undefined) {
        if (this.ended) this.close();
        else this.socket.resume?.(); // (what waits in the network stack: from a loop of the adapter's, not under this frame)
        return;
      }
      const effects = new Effects(this.socket);
      if (this.setupClient) effects.setupClient = true;
      let answer: Answer | Promise<Answer>;
      try {
        // The shape check runs before the dispatcher, not around it: no stack frame under every request.
        answer = this.server.shapeOk(next) ? this.server.dispatcher.handle(next, effects) : this.server.tooComplex;
      } catch (e) {
        this.fail(e);
        return;
      }
      if (!(answer instanceof Promise)) {
        this.reply(answer, effects);
        continue;
      }
      this.busy = true;
      answer.then(
        (tree) => {
          this.busy = false;
          this.reply(tree, effects);
          this.pump();
        },
        (e: unknown) => this.fail(e),
      );
    }
  }

  /**
   * Writes one answer frame into the socket (a size pass, then the frame through the server's
   * buffer, as much as the socket has room for: `resume` writes the rest as room comes), then runs
   * the request's after-reply effects. An answer that would take the output the client has left
   * unread past maxUnsentBytes is not written: the connection is closed instead, its unsent output
   * dropped (a client that asks and never reads).
   */
  private reply(answer: Answer, effects: Effects): void {
    if (this.closed) return;
    try {
      const size = this.server.out.measure(answer);
      const unsent = this.socket.unsent();
      if (unsent > 0 && unsent + HEADER_BYTES + size > this.server.limits.maxUnsentBytes) {
        this.server.log(`client not reading: ${unsent} bytes unsent, closing connection`);
        this.queue.length = 0;
        this.close(true);
        return;
      }
      this.answerSize = size;
    } catch (e) {
      this.fail(e);
      return;
    }
    this.answer = answer;
    this.answerSent = 0;
    this.effects = effects;
    this.busy = true;
    this.progress = this.server.now(); // (the client's time to take it starts now, even if no room comes at once)
    this.resume();
  }

  /**
   * Writes the next part of the answer, as much as the socket has room for (a pass over the whole
   * tree that sends only that part: wire/json-out.ts); once the last part is out the connection is
   * no longer busy and the effects run.
   */
  private resume(): void {
    const answer = this.answer;
    if (answer === null || this.closed) return;
    const total = HEADER_BYTES + this.answerSize;
    const room = this.socket.room();
    if (room <= 0) return;
    const to = room >= total - this.answerSent ? total : this.answerSent + room;
    try {
      this.server.out.frame(answer, this.answerSize, this.socket, this.answerSent, to);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.answerSent = to;
    this.progress = this.server.now();
    if (to < total) return;
    const effects = this.effects;
    this.answer = this.effects = null;
    this.busy = false;
    effects?.run(this.server.log);
  }

  /** Only the engine itself fails a request (out of memory): drop this connection rather than leave it waiting. */
  private fail(e: unknown): void {
    this.busy = false;
    this.answer = this.effects = null;
    this.server.log(`request failed: ${errorText(e)}`);
    this.queue.length = 0;
    this.close();
  }

  /** Closes once everything written is sent, or at once dropping what is unsent (`abort`). */
  private close(abort = false): void {
    if (this.closed) return;
    this.closed = true;
    this.answer = this.effects = null;
    this.server.connections.release(this);
    if (abort) this.socket.abort();
    else this.socket.close();
  }
}

export interface ServerPorts {
  /** The plug's limited log (ThrottledLog in limits.ts): every line the server writes is one a client can cause. */
  log: LogPort;
  timers: TimerPort;
  /** Monotonic milliseconds. */
  now: () => number;
}

export class KasaServer {
  private tcp: TcpListenerPort | null = null;
  private udp: DatagramPort | null = null;
  readonly log: LogPort;
  readonly now: () => number;
  readonly connections: ConnectionSet<Connection>;
  /** Writes every answer, TCP ones through its one buffer of limits.answerBufferBytes. */
  readonly out: JsonOut;
  /** The answer to a request over the depth or member bound: what was refused, in numbers. */
  readonly tooComplex: Answer;
  /** The UDP answer budgets, per sender address and for the whole plug (limits.ts, udpBudgets). */
  private readonly udpRows: Float64Array;
  /** Datagrams left unanswered since the last one answered (logged then). */
  private udpDropped = 0;

  constructor(
    readonly dispatcher: Dispatcher,
    ports: ServerPorts,
    readonly limits: Limits,
    /**
     * Told the peer address of every connection and datagram: true when it is a client of the setup
     * network (a sign that keeps that network up; Onboarding.clientSign).
     */
    private readonly clientSign: (address: string) => boolean = () => false,
  ) {
    this.log = ports.log;
    this.now = ports.now;
    this.connections = new ConnectionSet<Connection>(ports.timers, ports.now, limits.maxConnections);
    this.out = new JsonOut(new Uint8Array(limits.answerBufferBytes));
    this.tooComplex = Object.freeze({ err_code: -3, err_msg: `request too complex: over ${limits.maxJsonDepth} levels or ${limits.maxJsonItems} members` });
    this.udpRows = udpBudgets(limits, ports.now());
  }

  start(tcp: TcpListenerPort, udp: DatagramPort): void {
    this.tcp = tcp;
    this.udp = udp;
    // Bound methods, not closures: on a device a closure's code is copied to RAM, a method's is in flash.
    tcp.listen(this.accept.bind(this));
    try {
      udp.listen(this.received.bind(this));
    } catch (e) {
      // The port is taken (ECMA-419 throws then): TCP clients are served all the same.
      this.log(`udp: ${errorText(e)}; discovery off`);
    }
  }

  /** A new TCP client: served, in place of the connection idle longest if every place is taken. */
  private accept(socket: StreamSocket, address: string): StreamHandler {
    const setupClient = this.clientSign(address);
    if (!this.connections.makeRoom()) {
      this.log(`connection refused: all ${this.limits.maxConnections} open are busy answering`);
      socket.close();
      return REFUSED;
    }
    const connection = new Connection(socket, this, setupClient);
    this.connections.admit(connection);
    return connection;
  }

  private received(bytes: Uint8Array, address: string, port: number): void {
    // Port 0 is no sender's: such a datagram is forged, and no answer can be sent to it.
    if (port === 0) return;
    this.clientSign(address);
    this.datagram(bytes, address, port);
  }

  stop(): void {
    this.connections.clear();
    this.tcp?.close();
    this.udp?.close();
    this.tcp = this.udp = null;
  }

  /** A request's plaintext within the depth and member bounds, checked before JSON.parse builds anything. */
  shapeOk(plaintext: Uint8Array): boolean {
    return jsonWithin(plaintext, this.limits.maxJsonDepth, this.limits.maxJsonItems);
  }

  /** Whether a datagram from this address may be answered now (its sender's and the plug's budgets). */
  private udpAllowed(address: string): boolean {
    if (udpAdmit(this.udpRows, this.limits, this.now(), address)) {
      if (this.udpDropped > 0) this.log(`udp: ${this.udpDropped} datagrams left unanswered (over their sender's or the plug's budget)`);
      this.udpDropped = 0;
      return true;
    }
    this.udpDropped++;
    return false;
  }

  private datagram(bytes: Uint8Array, address: string, port: number): void {
    if (bytes.length === 0 || bytes.length > this.limits.maxFrameBytes || !this.udpAllowed(address)) return;
    const effects = new Effects(address); // (a datagram's source may be forged: never a setup client)
    let answer: Answer | Promise<Answer>;
    try {
      const plaintext = decrypt(new Uint8Array(bytes)); // a copy: the port's buffer is left alone
      answer = this.shapeOk(plaintext) ? this.dispatcher.handle(plaintext, effects) : this.tooComplex;
    } catch (e) {
      this.log(`datagram failed: ${errorText(e)}`);
      return;
    }
    if (!(answer instanceof Promise)) this.reply(answer, effects, address, port);
    else {
      answer.then(
        (tree) => this.reply(tree, effects, address, port),
        (e: unknown) => this.log(`datagram failed: ${errorText(e)}`),
      );
    }
  }

  /**
   * A datagram is one write: its size pass, then the answer encrypted into one array of that size.
   * An answer longer than one datagram (udpMaxAnswerBytes) is not sent: each method asked gets a
   * short error in its place instead, saying to ask over TCP, as a client reads a method's error
   * (tplink-smarthome-api, which can use UDP for everything, then reports that error rather than
   * "err_code missing"); what the request changed is changed all the same. Where even that is too
   * long (many methods in one datagram), one error answers the whole request.
   */
  private reply(answer: Answer, effects: Effects, address: string, port: number): void {
    let bytes: Uint8Array;
    try {
      let size = this.out.measure(answer);
      if (size > this.limits.udpMaxAnswerBytes) {
        this.log(`udp: an answer of ${size} bytes replaced by an error (over ${this.limits.udpMaxAnswerBytes})`);
        const error = { err_code: -5, err_msg: `answer over ${this.limits.udpMaxAnswerBytes} bytes: ask over TCP` };
        answer = eachMethod(answer, error);
        size = this.out.measure(answer);
        if (size > this.limits.udpMaxAnswerBytes) size = this.out.measure((answer = error));
      }
      bytes = this.out.datagram(answer, size);
    } catch (e) {
      this.log(`datagram failed: ${errorText(e)}`);
      return;
    }
    this.udp?.send(bytes, address, port);
    udpSpend(this.udpRows, address, bytes.length);
    effects.run(this.log);
  }
}

/**
 * An answer within `max` bytes of JSON text, and its size: `answer` itself, or, when it is longer,
 * the same answer with each method's answer replaced by an error saying so (as the UDP path does),
 * or that error alone. For the authenticated transports (KLAP, the owner's page), whose answers are
 * streamed but bounded in time: each part the socket takes costs a pass over the answer.
 */
export function boundedAnswer(out: JsonOut, answer: Answer, max: number, log: LogPort, who: string): { answer: Answer; size: number } {
  let size = out.measure(answer);
  if (size > max) {
    log(`${who}: an answer of ${size} bytes replaced by an error (over ${max})`);
    const error = { err_code: -5, err_msg: `answer over ${max} bytes` };
    answer = eachMethod(answer, error);
    size = out.measure(answer);
    if (size > max) size = out.measure((answer = error));
  }
  return { answer, size };
}

/**
 * `answer` with each method's answer replaced by `error`, in the same order under the same names (the
 * request's own strings: no key is made); a module answered with an error of its own keeps it.
 */
export function eachMethod(answer: Answer, error: Answer): Answer {
  if (!(answer instanceof Members)) return error;
  const out = new Members();
  for (let m = 0; m < answer.names.length; m++) {
    const module = answer.values[m];
    let value = module;
    if (module instanceof Members) {
      const methods = new Members();
      for (let k = 0; k < module.names.length; k++) {
        methods.names.push(module.names[k]);
        methods.values.push(error);
      }
      value = methods;
    }
    out.names.push(answer.names[m]);
    out.values.push(value);
  }
  return out;
}
