// A raw-frame Kasa client over real sockets, for driving the host plug the way scripts do.

import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { decodeDatagram, FrameDecoder } from "../../src/core/protocol/wire/frame.js";
import { encodeDatagram, encodeFrame } from "./wire.js";
import { utf8Decode } from "../../src/core/protocol/wire/utf8.js";

export class RawClient {
  private readonly frames: string[] = [];
  private readonly raw: Buffer[] = [];
  private readonly decoder = new FrameDecoder(1 << 20);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk) => {
      this.raw.push(chunk);
      this.decoder.feed(chunk, (p) => this.frames.push(utf8Decode(p)));
      this.wake();
    });
    socket.on("end", () => {
      this.closed = true; // the plug closed its side
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  /** `from`: the client's own address (127.0.4.x plays a client of the host plug's setup network: host/wifi.ts). */
  static connect(port: number, host = "127.0.0.1", from?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, allowHalfOpen: true, localAddress: from }, () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === "string" ? encodeFrame(bytes) : bytes);
  }

  /** Every byte received so far. */
  bytes(): Buffer {
    return Buffer.concat(this.raw);
  }

  async frame(timeoutMs = 3000): Promise<string> {
    await this.until(() => this.frames.length > 0 || this.closed, timeoutMs);
    const f = this.frames.shift();
    if (f === undefined) throw new Error("connection closed without an answer");
    return f;
  }

  async ask(request: unknown): Promise<any> {
    this.write(JSON.stringify(request));
    return JSON.parse(await this.frame());
  }

  /** Resolves true when the plug closed the connection within the time. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    await this.until(() => this.closed, timeoutMs).catch(() => {});
    return this.closed;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private until(done: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out")), timeoutMs);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }
}

/** One request and answer over UDP; resolves with the answer text and the port it came from. */
export function udpAsk(port: number, text: string | Uint8Array, timeoutMs = 2000): Promise<{ text: string; fromPort: number; bytes: Buffer }> {
  const socket = createSocket("udp4");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error("no UDP answer"));
    }, timeoutMs);
    socket.on("message", (msg, rinfo) => {
      clearTimeout(timer);
      socket.close();
      resolve({ text: decodeDatagram(msg), fromPort: rinfo.port, bytes: msg });
    });
    socket.bind(0, "127.0.0.1", () => socket.send(typeof text === "string" ? encodeDatagram(text) : text, port, "127.0.0.1"));
  });
}

/** Opens one connection and immediately sends the requests, then FIN, as tplink-smarthome-api does. */
export async function askOnce(port: number, request: unknown, from?: string): Promise<any> {
  const c = await RawClient.connect(port, "127.0.0.1", from);
  const answer = c.ask(request);
  const result = await answer;
  c.end();
  await c.waitClosed();
  return result;
}
