// TCP and UDP on ECMA-419 sockets (embedded:io/socket/*), the same on ESP8266, ESP32 and the simulator.
// A connection the core closes is let go once its last answer is out, and at most CLOSE_LINGER_MS
// later in any case: a client that never reads must not keep the socket and its unsent answers.
// A UDP port that cannot be opened (taken) throws from `listen`, leaving `udp` null (sends do
// nothing): the core logs it and runs without discovery or captive DNS.

import Listener from "embedded:io/socket/listener";
import TCP from "embedded:io/socket/tcp";
import UDP from "embedded:io/socket/udp";
import Timer from "timer";
import type { DatagramPort, StreamHandler, StreamSocket, TcpListenerPort } from "../ports/ports.js";

/** How long a closed connection may wait for its client to take the last answers (ms). */
export const CLOSE_LINGER_MS = 5000;
/**
 * Received bytes are read this many at a time, and no more once the handler stops accepting: a burst
 * of requests is neither one 1.5 KB buffer in the JS heap nor decoded into more than two queued ones.
 */
const READ_PIECE_BYTES = 64;

// The sockets' callbacks are these module functions (in flash once preloaded), each finding its
// connection or port through the socket's ECMA-419 `target`: closures made per connection would
// each cost RAM for their code and captured variables on an ESP8266 (docs/MEMORY.md).
type Targeted<T> = { readonly target: T };

function connectionReadable(this: TCP, count: number): void {
  (this as unknown as Targeted<Connection>).target.readable(count);
}
function connectionWritable(this: TCP, count: number): void {
  (this as unknown as Targeted<Connection>).target.writable(count);
}
function connectionError(this: TCP): void {
  (this as unknown as Targeted<Connection>).target.failed();
}
function listenerReadable(this: Listener, count: number): void {
  (this as unknown as Targeted<ModdableTcpListener>).target.accepted(this, count);
}
function udpReadable(this: UDP, packets: number): void {
  (this as unknown as Targeted<ModdableUdp>).target.received(this, packets);
}

/**
 * One accepted connection: what the socket has no room for queues until it has (ECMA-419 write
 * throws otherwise). The queue holds copies: the core reuses the buffer it writes from.
 */
class Connection implements StreamSocket {
  /** Copies waiting for room (made only when something did not fit: the Kasa server writes within `room`). */
  private pending: Uint8Array[] | null = null;
  /** Bytes in `pending`. */
  private queued = 0;
  /** The send buffer's free room, as onWritable last said, less what was written since. */
  private space = 0;
  private closing = false;
  private closed = false;
  /** Lets go of a closing connection whose client does not take its last answers. */
  private linger: Timer | undefined;
  handler: StreamHandler | null = null;
  private readonly tcp: TCP;
  /** Received bytes the network stack holds, not read yet (onReadable's count, less what was read). */
  private available = 0;
  /** In `drain`'s loop. */
  private reading = false;

  constructor(from: TCP) {
    this.tcp = new TCP({ from, nodelay: true, target: this, onReadable: connectionReadable, onWritable: connectionWritable, onError: connectionError });
  }

  /** The client's IPv4 address (the accepted socket's remoteAddress), "" when the platform does not say. */
  peer(): string {
    const address = this.tcp.remoteAddress;
    return typeof address === "string" ? address : "";
  }

  readable(count: number): void {
    this.available = count;
    this.drain();
  }

  resume(): void {
    if (!this.reading) this.drain();
  }

  /**
   * Reads what arrived and hands it on, in pieces of at most READ_PIECE_BYTES (a burst is never one
   * big buffer), while the handler is accepting: what it does not take yet stays in the network
   * stack, whose TCP window holds the client back. A loop, with `resume` calls under it returning at
   * once: pipelined requests cost no stack.
   */
  private drain(): void {
    this.reading = true;
    while (this.available > 0 && !this.closed && this.handler !== null && (this.handler.accepting?.() ?? true)) {
      const data = this.tcp.read(this.available < READ_PIECE_BYTES ? this.available : READ_PIECE_BYTES) as ArrayBuffer | undefined;
      if (data === undefined || data.byteLength === 0) break;
      this.available -= data.byteLength;
      this.handler.data(new Uint8Array(data));
    }
    this.reading = false;
  }

  writable(count: number): void {
    this.space = count;
    this.flush();
    if (this.pending !== null || this.closed || this.handler === null) return;
    // The rest of an answer, then the requests that waited for it: read by the loop here, not
    // under the answer's frames (`resume` under them returns at once).
    this.reading = true;
    this.handler.writable?.();
    this.reading = false;
    this.drain();
  }

  /** A clean remote close arrives here too. */
  failed(): void {
    this.dispose();
    this.handler?.end();
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    let sent = 0;
    if (this.pending === null && this.space > 0) {
      // straight to the socket (lwIP copies it), as much as it has room for
      sent = Math.min(bytes.length, this.space);
      this.tcp.write(sent === bytes.length ? bytes : bytes.subarray(0, sent));
      this.space -= sent;
    }
    if (sent < bytes.length) {
      (this.pending ??= []).push(bytes.slice(sent));
      this.queued += bytes.length - sent;
    }
  }

  unsent(): number {
    return this.queued;
  }

  /** The send buffer's free room, when nothing waits here (the Kasa server writes within it, resuming on writable). */
  room(): number {
    return this.closed || this.pending !== null ? 0 : this.space;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.flush();
    if (!this.closed) {
      this.linger = Timer.set(() => {
        this.linger = undefined;
        this.dispose();
      }, CLOSE_LINGER_MS);
    }
  }

  abort(): void {
    this.dispose();
  }

  private flush(): void {
    while (!this.closed && this.pending !== null && this.space > 0) {
      const pending = this.pending;
      const head = pending[0];
      const n = Math.min(head.length, this.space);
      this.tcp.write(n === head.length ? head : head.subarray(0, n));
      this.space -= n;
      this.queued -= n;
      if (n < head.length) pending[0] = head.subarray(n);
      else if (pending.length > 1) pending.shift();
      else this.pending = null;
    }
    if (this.closing && this.pending === null) this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.queued = 0;
    if (this.linger !== undefined) Timer.clear(this.linger);
    this.linger = undefined;
    this.tcp.close();
  }
}

export class ModdableTcpListener implements TcpListenerPort {
  private listener: Listener | null = null;

  constructor(private readonly port: number) {}

  private accept: ((socket: StreamSocket, address: string) => StreamHandler) | null = null;

  listen(accept: (socket: StreamSocket, address: string) => StreamHandler): void {
    this.accept = accept;
    this.listener = new Listener({ port: this.port, target: this, onReadable: listenerReadable });
  }

  accepted(listener: Listener, count: number): void {
    while (count-- > 0 && this.accept !== null) {
      const from = listener.read();
      if (from === undefined) break;
      const connection = new Connection(from);
      connection.handler = this.accept(connection, connection.peer());
    }
  }

  close(): void {
    (this.listener as unknown as { close?: () => void } | null)?.close?.();
    this.listener = null;
  }
}

export class ModdableUdp implements DatagramPort {
  private udp: UDP | null = null;

  constructor(private readonly port: number) {}

  private receive: ((bytes: Uint8Array, address: string, port: number) => void) | null = null;

  listen(receive: (bytes: Uint8Array, address: string, port: number) => void): void {
    this.receive = receive;
    this.udp = new UDP({ port: this.port, target: this, onReadable: udpReadable });
  }

  received(udp: UDP, packets: number): void {
    while (packets-- > 0 && this.receive !== null) {
      const packet = udp.read();
      this.receive(new Uint8Array(packet), packet.address, packet.port);
    }
  }

  send(bytes: Uint8Array, address: string, port: number): void {
    try {
      this.udp?.write(bytes, address, port);
    } catch {
      // no buffer for it now: discovery will ask again
    }
  }

  close(): void {
    (this.udp as unknown as { close?: () => void } | null)?.close?.();
    this.udp = null;
  }
}
