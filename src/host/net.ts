// Host network adapters: TCP and UDP sockets from Node, bound before the plug starts. `close()`
// stops listening but keeps the port, so that the core can listen again (the setup page opens and
// closes with the setup network); `unbind()` lets the port go when the plug stops. A connection the
// core closes is let go once its last answer is out, and at most CLOSE_LINGER_MS later in any case:
// a client that never reads must not keep the socket and what was written to it.

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import type { DatagramPort, StreamHandler, StreamSocket, TcpListenerPort } from "../ports/ports.js";

/** How long a closed connection may take to hand its last answers to a client that does not read (ms). */
export const CLOSE_LINGER_MS = 2000;

export class NodeTcpListener implements TcpListenerPort {
  private accept: ((socket: StreamSocket, address: string) => StreamHandler) | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    server.on("connection", (socket) => this.connection(socket));
  }

  /** Binds; port 0 picks a free port (see `port`). */
  static open(port: number, address: string): Promise<NodeTcpListener> {
    // allowHalfOpen: a client may send its request and FIN at once and still read the answer.
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, address, () => {
        server.off("error", reject);
        resolve(new NodeTcpListener(server));
      });
    });
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  /** Accepted sockets not let go yet. */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Bytes written to the open sockets that the kernel has not taken yet (their clients do not read). */
  get unsentBytes(): number {
    let n = 0;
    for (const s of this.sockets) n += s.writableLength;
    return n;
  }

  listen(accept: (socket: StreamSocket, address: string) => StreamHandler): void {
    this.accept = accept;
  }

  close(): void {
    this.accept = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  unbind(): void {
    this.close();
    if (this.server.listening) this.server.close();
  }

  private connection(socket: Socket): void {
    if (this.accept === null) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    let ended = false;
    const handler = this.accept({
      // A copy: Node keeps what it cannot send at once, and the core reuses its buffer.
      write: (bytes) => {
        if (!socket.destroyed) socket.write(Buffer.from(bytes));
      },
      unsent: () => (socket.destroyed ? 0 : socket.writableLength),
      // Node keeps what the kernel does not take, outside any JS heap budget: answers go out whole
      room: () => Infinity,
      // FIN after the last write is flushed, then let go: a client that never closes its side
      // must not keep the connection (allowHalfOpen) alive forever, and one that never reads (the
      // flush never ends) must not either.
      close: () => {
        if (socket.destroyed || socket.writableEnded) return;
        socket.end(() => socket.destroy());
        const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
        socket.once("close", () => clearTimeout(linger));
      },
      abort: () => socket.destroy(),
      peer: () => socket.remoteAddress ?? "",
    }, socket.remoteAddress ?? "");
    const end = () => {
      if (ended) return;
      ended = true;
      handler.end();
    };
    socket.on("data", (chunk: Buffer) => handler.data(chunk));
    socket.on("end", end);
    socket.on("error", () => {
      end();
      socket.destroy();
    });
    socket.on("close", () => {
      this.sockets.delete(socket);
      end();
    });
  }
}

export class NodeUdp implements DatagramPort {
  private receive: ((bytes: Uint8Array, address: string, port: number) => void) | null = null;

  private constructor(private readonly socket: UdpSocket) {
    socket.on("message", (msg, rinfo) => this.receive?.(msg, rinfo.address, rinfo.port));
  }

  get port(): number {
    return this.socket.address().port;
  }

  static open(port: number, address: string): Promise<NodeUdp> {
    const socket = createSocket({ type: isIPv6(address) ? "udp6" : "udp4", reuseAddr: false });
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, address, () => {
        socket.off("error", reject);
        socket.on("error", () => {}); // a failed send must not take the plug down
        resolve(new NodeUdp(socket));
      });
    });
  }

  listen(receive: (bytes: Uint8Array, address: string, port: number) => void): void {
    this.receive = receive;
  }

  /** Never throws: a datagram that cannot be sent (port 0, a closed socket, no route) is dropped. */
  send(bytes: Uint8Array, address: string, port: number): void {
    try {
      this.socket.send(bytes, port, address);
    } catch {
      // dgram throws at once on a bad port or a closed socket; errors from the network arrive as
      // "error" events, handled in open
    }
  }

  close(): void {
    this.receive = null;
  }

  private bound = true;

  unbind(): void {
    this.receive = null;
    if (this.bound) this.socket.close();
    this.bound = false;
  }
}
