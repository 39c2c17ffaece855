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
 * One accepted connection: what the socket has no room for queues until it has (ECMA-419 write
 * throws otherwise). The queue holds copies: the core reuses the buffer it writes from.
 */
class Connection implements StreamSocket {
  private readonly pending: Uint8Array[] = [];
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

  constructor(from: TCP) {
    const self = this;
    this.tcp = new TCP({
      from,
      nodelay: true,
      onReadable(this: TCP, count: number) {
        const data = this.read(count) as ArrayBuffer;
        if (self.handler !== null && data !== undefined) self.handler.data(new Uint8Array(data));
      },
      onWritable(this: TCP, count: number) {
        self.space = count;
        self.flush();
        if (self.pending.length === 0 && !self.closed) self.handler?.writable?.();
      },
      onError() {
        // a clean remote close arrives here too
        self.dispose();
        self.handler?.end();
      },
    });
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    let sent = 0;
    if (this.pending.length === 0 && this.space > 0) {
      // straight to the socket (lwIP copies it), as much as it has room for
      sent = Math.min(bytes.length, this.space);
      this.tcp.write(sent === bytes.length ? bytes : bytes.subarray(0, sent));
      this.space -= sent;
    }
    if (sent < bytes.length) {
      this.pending.push(bytes.slice(sent));
      this.queued += bytes.length - sent;
    }
  }

  unsent(): number {
    return this.queued;
  }

  /** The send buffer's free room, when nothing waits here (the Kasa server writes within it, resuming on writable). */
  room(): number {
    return this.closed || this.pending.length > 0 ? 0 : this.space;
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
    while (!this.closed && this.pending.length > 0 && this.space > 0) {
      const head = this.pending[0];
      const n = Math.min(head.length, this.space);
      this.tcp.write(n === head.length ? head : head.subarray(0, n));
      this.space -= n;
      this.queued -= n;
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    if (this.closing && this.pending.length === 0) this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    this.queued = 0;
    if (this.linger !== undefined) Timer.clear(this.linger);
    this.linger = undefined;
    this.tcp.close();
  }
}

export class ModdableTcpListener implements TcpListenerPort {
  private listener: Listener | null = null;

  constructor(private readonly port: number) {}

  listen(accept: (socket: StreamSocket) => StreamHandler): void {
    this.listener = new Listener({
      port: this.port,
      onReadable(this: Listener, count: number) {
        while (count-- > 0) {
          const from = this.read();
          if (from === undefined) break;
          const connection = new Connection(from);
          connection.handler = accept(connection);
        }
      },
    });
  }

  close(): void {
    (this.listener as unknown as { close?: () => void } | null)?.close?.();
    this.listener = null;
  }
}

export class ModdableUdp implements DatagramPort {
  private udp: UDP | null = null;

  constructor(private readonly port: number) {}

  listen(receive: (bytes: Uint8Array, address: string, port: number) => void): void {
    this.udp = new UDP({
      port: this.port,
      onReadable(this: UDP, packets: number) {
        while (packets-- > 0) {
          const packet = this.read();
          receive(new Uint8Array(packet), packet.address, packet.port);
        }
      },
    });
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
