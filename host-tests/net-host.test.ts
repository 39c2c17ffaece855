// The host's TCP adapter (src/host/net.ts) as the core relies on it: a write's bytes are only lent
// for the call (the core reuses its buffer), unsent() is what Node holds for a peer that does not
// read, and abort() lets it go.

import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { NodeTcpListener } from "../src/host/net.js";
import type { StreamSocket } from "../src/ports/ports.js";

const listeners: NodeTcpListener[] = [];
afterEach(() => {
  for (const l of listeners.splice(0)) l.unbind();
});

/** A listener on loopback, one client that does not read, and the core's side of that connection. */
async function pausedPair(): Promise<{ plug: StreamSocket; client: Socket; received: () => Buffer; closed: Promise<void> }> {
  const listener = await NodeTcpListener.open(0, "127.0.0.1");
  listeners.push(listener);
  const accepted = new Promise<StreamSocket>((resolve) => listener.listen((socket) => (resolve(socket), { data() {}, end() {} })));
  const client = connect(listener.port, "127.0.0.1");
  client.pause();
  const chunks: Buffer[] = [];
  client.on("data", (d: Buffer) => chunks.push(d));
  client.on("error", () => {});
  const closed = new Promise<void>((resolve) => client.on("close", () => resolve()));
  return { plug: await accepted, client, received: () => Buffer.concat(chunks), closed };
}

describe("host TCP adapter", () => {
  it("keeps its own copy of what it cannot send at once: the writer's buffer is reused", async () => {
    const { plug, client, received, closed } = await pausedPair();
    const buffer = new Uint8Array(64 * 1024);
    let writes = 0;
    // fill the kernel's buffers until Node queues, then a little more; every write from the same buffer
    for (; writes < 2000 && plug.unsent() < 4 * buffer.length; writes++) {
      buffer.fill(writes & 0xff);
      plug.write(buffer);
    }
    expect(plug.unsent()).toBeGreaterThanOrEqual(4 * buffer.length);
    buffer.fill(0xee); // what a reused buffer would send if the adapter had kept a reference
    plug.close();
    client.resume();
    await closed;
    const got = received();
    expect(got.length).toBe(writes * buffer.length);
    for (let i = 0; i < writes; i++) expect(got[i * buffer.length]).toBe(i & 0xff);
    expect(got.subarray(-buffer.length).every((b) => b === ((writes - 1) & 0xff))).toBe(true);
  });

  it("abort drops what is unsent at once, where close would wait for the peer to read it", async () => {
    const { plug, client, closed } = await pausedPair();
    const buffer = new Uint8Array(64 * 1024);
    for (let i = 0; i < 2000 && plug.unsent() === 0; i++) plug.write(buffer);
    expect(plug.unsent()).toBeGreaterThan(0);
    plug.close(); // waits for the peer, who never reads
    expect(plug.unsent()).toBeGreaterThan(0);
    plug.abort();
    expect(plug.unsent()).toBe(0);
    client.resume();
    await closed;
  });
});
