// Serves the Kasa protocol on the network ports: TCP 9999 with streaming framing and any number of
// sequential requests per connection, and UDP 9999 datagrams answered unicast from the same port.

import type { DatagramPort, LogPort, StreamHandler, StreamSocket, TcpListenerPort } from "../ports/ports.js";
import type { Dispatcher, RequestContext } from "./dispatcher.js";
import { errorText } from "./errors.js";
import { decodeDatagram, encodeDatagram, encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from "./wire/frame.js";
import { utf8Decode } from "./wire/utf8.js";

/** Requests one connection may have waiting for their answers; a client pipelining more is closed. */
export const MAX_QUEUED_FRAMES = 8;

/** Collects the effects a request wants run once its answer is out. */
class Effects implements RequestContext {
  private list: (() => void)[] | null = null;

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

class Connection implements StreamHandler {
  private readonly decoder = new FrameDecoder(MAX_FRAME_BYTES);
  private readonly queue: Uint8Array[] = [];
  private busy = false;
  private ended = false;
  private closed = false;

  constructor(
    private readonly socket: StreamSocket,
    private readonly server: KasaServer,
  ) {}

  data(bytes: Uint8Array): void {
    if (this.closed) return;
    const ok = this.decoder.feed(bytes, (plaintext) => this.queue.push(plaintext));
    if (!ok || this.queue.length > MAX_QUEUED_FRAMES) {
      this.server.log(ok ? "too many queued requests: closing connection" : "frame too large: closing connection");
      this.queue.length = 0;
      this.close();
      return;
    }
    this.pump();
  }

  end(): void {
    this.ended = true;
    if (!this.busy && this.queue.length === 0) this.close();
  }

  /** Answers the queued requests in order; a loop, not recursion, so that pipelined frames cost no stack. */
  private pump(): void {
    while (!this.busy && !this.closed) {
      const next = this.queue.shift();
      if (next === undefined) {
        if (this.ended) this.close();
        return;
      }
      const effects = new Effects();
      let answer: string | Promise<string>;
      try {
        answer = this.server.dispatcher.handle(utf8Decode(next), effects);
      } catch (e) {
        this.fail(e);
        return;
      }
      if (typeof answer === "string") {
        this.reply(answer, effects);
        continue;
      }
      this.busy = true;
      answer.then(
        (text) => {
          this.busy = false;
          this.reply(text, effects);
          this.pump();
        },
        (e: unknown) => this.fail(e),
      );
    }
  }

  private reply(answer: string, effects: Effects): void {
    if (this.closed) return;
    this.socket.write(encodeFrame(answer));
    effects.run(this.server.log);
  }

  /** Only the engine itself fails a request (out of memory): drop this connection rather than leave it waiting. */
  private fail(e: unknown): void {
    this.busy = false;
    this.server.log(`request failed: ${errorText(e)}`);
    this.queue.length = 0;
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

export class KasaServer {
  private tcp: TcpListenerPort | null = null;
  private udp: DatagramPort | null = null;

  constructor(
    readonly dispatcher: Dispatcher,
    readonly log: LogPort,
    /** Told of every connection and datagram (a client sign that keeps the setup network open). */
    private readonly activity: () => void = () => {},
  ) {}

  start(tcp: TcpListenerPort, udp: DatagramPort): void {
    this.tcp = tcp;
    this.udp = udp;
    tcp.listen((socket) => {
      this.activity();
      return new Connection(socket, this);
    });
    udp.listen((bytes, address, port) => {
      this.activity();
      this.datagram(bytes, address, port);
    });
  }

  stop(): void {
    this.tcp?.close();
    this.udp?.close();
    this.tcp = this.udp = null;
  }

  private datagram(bytes: Uint8Array, address: string, port: number): void {
    if (bytes.length === 0 || bytes.length > MAX_FRAME_BYTES) return;
    const effects = new Effects();
    let answer: string | Promise<string>;
    try {
      answer = this.dispatcher.handle(decodeDatagram(bytes), effects);
    } catch (e) {
      this.log(`datagram failed: ${errorText(e)}`);
      return;
    }
    if (typeof answer === "string") this.reply(answer, effects, address, port);
    else {
      answer.then(
        (text) => this.reply(text, effects, address, port),
        (e: unknown) => this.log(`datagram failed: ${errorText(e)}`),
      );
    }
  }

  private reply(answer: string, effects: Effects, address: string, port: number): void {
    this.udp?.send(encodeDatagram(answer), address, port);
    effects.run(this.log);
  }
}
