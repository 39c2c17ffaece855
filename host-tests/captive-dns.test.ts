import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { CAPTIVE_TTL_SECONDS, captiveAnswer, ipv4Bytes, MAX_DNS_QUERY_BYTES } from "../src/core/onboarding/captive-dns.js";

const PLUG = Uint8Array.of(192, 168, 4, 1);

/** The wire form of a name: length-prefixed labels and the root label. */
function wireName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".")) out.push(label.length, ...Array.from(label, (c) => c.charCodeAt(0)));
  out.push(0);
  return out;
}

interface Query {
  id?: number;
  flags?: number;
  qdcount?: number;
  arcount?: number;
  name?: number[];
  qtype?: number;
  qclass?: number;
  extra?: number[];
}

function query(q: Query = {}): Uint8Array {
  const id = q.id ?? 0xbeef;
  const flags = q.flags ?? 0x0100; // RD
  const qdcount = q.qdcount ?? 1;
  const arcount = q.arcount ?? 0;
  const qtype = q.qtype ?? 1;
  const qclass = q.qclass ?? 1;
  return Uint8Array.from([
    id >> 8, id & 0xff, flags >> 8, flags & 0xff, qdcount >> 8, qdcount & 0xff, 0, 0, 0, 0, arcount >> 8, arcount & 0xff,
    ...(q.name ?? wireName("captive.apple.com")),
    qtype >> 8, qtype & 0xff, qclass >> 8, qclass & 0xff,
    ...(q.extra ?? []),
  ]);
}

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const rcode = (b: Uint8Array) => b[3] & 0x0f;
const counts = (b: Uint8Array) => [u16(b, 4), u16(b, 6), u16(b, 8), u16(b, 10)];

/** A UDP DNS server on 127.0.0.1 answering with captiveAnswer, for the duration of `body`. */
async function withServer(body: (port: number) => Promise<void>): Promise<void> {
  const socket = createSocket("udp4");
  socket.on("message", (msg, peer) => {
    const answer = captiveAnswer(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), ipv4Bytes("192.168.4.1")!);
    if (answer) socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  try {
    await body((socket.address() as AddressInfo).port);
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

describe("captive DNS seen by a real resolver", () => {
  it("resolves any name to the plug's address", async () => {
    await withServer(async (port) => {
      const resolver = new (await import("node:dns")).promises.Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${port}`]);
      expect(await resolver.resolve4("connectivitycheck.gstatic.com")).toEqual(["192.168.4.1"]);
      expect(await resolver.resolve4("captive.apple.com")).toEqual(["192.168.4.1"]);
      const withTtl = await resolver.resolve4("www.msftconnecttest.com", { ttl: true });
      expect(withTtl).toEqual([{ address: "192.168.4.1", ttl: CAPTIVE_TTL_SECONDS }]);
    });
  });

  it("has no IPv6 address for any name, so clients fall back to IPv4", async () => {
    await withServer(async (port) => {
      const resolver = new (await import("node:dns")).promises.Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${port}`]);
      await expect(resolver.resolve6("connectivitycheck.gstatic.com")).rejects.toMatchObject({ code: "ENODATA" });
    });
  });
});

describe("captiveAnswer", () => {
  it("answers an A query with the plug's address: ID and RD kept, question echoed, the exact record", () => {
    const q = query({ id: 0x1234, flags: 0x0100 });
    const a = captiveAnswer(q, PLUG)!;
    const question = q.subarray(12);
    expect(Array.from(a.subarray(0, 12))).toEqual([0x12, 0x34, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]);
    expect(a.subarray(12, 12 + question.length)).toEqual(question);
    expect(Array.from(a.subarray(12 + question.length))).toEqual([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 168, 4, 1]);
    expect(a.length).toBe(12 + question.length + 16);
  });

  it("keeps RD clear when the query did not set it, and echoes the name's letter case", () => {
    const a = captiveAnswer(query({ id: 7, flags: 0x0000, name: wireName("CaPtIvE.ApPlE.cOm") }), PLUG)!;
    expect(Array.from(a.subarray(0, 4))).toEqual([0, 7, 0x84, 0x00]);
    expect(a.subarray(12, 31)).toEqual(Uint8Array.from(wireName("CaPtIvE.ApPlE.cOm")));
  });

  it("answers ANY like A", () => {
    const a = captiveAnswer(query({ qtype: 255 }), PLUG)!;
    expect(counts(a)).toEqual([1, 1, 0, 0]);
    expect(Array.from(a.subarray(-4))).toEqual([192, 168, 4, 1]);
  });

  it("answers the root name too", () => {
    const a = captiveAnswer(query({ name: [0] }), PLUG)!;
    expect(Array.from(a.subarray(12))).toEqual([0, 0, 1, 0, 1, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 168, 4, 1]);
  });

  it("answers an EDNS query without an OPT record, copying nothing after the question", () => {
    const opt = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];
    const plain = captiveAnswer(query({ id: 0x4242 }), PLUG)!;
    const edns = captiveAnswer(query({ id: 0x4242, arcount: 1, extra: opt }), PLUG)!;
    expect(counts(edns)).toEqual([1, 1, 0, 0]);
    expect(edns).toEqual(plain);
  });

  it("gives NOERROR without answers for AAAA, HTTPS and other types", () => {
    for (const qtype of [28, 65, 16, 15, 5]) {
      const q = query({ qtype });
      const a = captiveAnswer(q, PLUG)!;
      expect(Array.from(a.subarray(0, 4))).toEqual([0xbe, 0xef, 0x85, 0x00]);
      expect(counts(a)).toEqual([1, 0, 0, 0]);
      expect(a.subarray(12)).toEqual(q.subarray(12));
    }
  });

  it("gives NOERROR without answers for classes other than IN", () => {
    for (const qclass of [3, 4, 255]) {
      const a = captiveAnswer(query({ qclass }), PLUG)!;
      expect(rcode(a)).toBe(0);
      expect(counts(a)).toEqual([1, 0, 0, 0]);
    }
  });

  it("answers a non-standard opcode with NOTIMP and the question echoed", () => {
    for (const opcode of [1, 2, 4, 5]) {
      const q = query({ id: 0x0102, flags: (opcode << 11) | 0x0100 });
      const a = captiveAnswer(q, PLUG)!;
      expect(a[2]).toBe(0x80 | (opcode << 3) | 0x01);
      expect(rcode(a)).toBe(4);
      expect(counts(a)).toEqual([1, 0, 0, 0]);
      expect(Array.from(a.subarray(0, 2))).toEqual([1, 2]);
      expect(a.subarray(12)).toEqual(q.subarray(12));
    }
  });

  it("drops what it must not answer", () => {
    const label63 = "x".repeat(63);
    const longest = [label63, label63, label63, "x".repeat(61)].join("."); // 255 bytes on the wire
    expect(wireName(longest).length).toBe(255);
    expect(captiveAnswer(query({ name: wireName(longest) }), PLUG)).toBeDefined();

    const dropped: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["shorter than the header", query().subarray(0, 11)],
      ["header only", query().subarray(0, 12)],
      ["longer than 512 bytes", query({ arcount: 1, extra: new Array(MAX_DNS_QUERY_BYTES).fill(0) })],
      ["a response (QR set)", query({ flags: 0x8180 })],
      ["no question", query({ qdcount: 0 })],
      ["two questions", query({ qdcount: 2 })],
      ["QDCOUNT 257", query({ qdcount: 0x101 })],
      ["a 64-byte label", query({ name: wireName("x".repeat(64) + ".com") })],
      ["a name over 255 bytes", query({ name: wireName(longest + "x") })],
      ["a compression pointer", query({ name: [3, 0x77, 0x77, 0x77, 0xc0, 0x0c] })],
      ["a reserved label type", query({ name: [0x40, 0] })],
      ["a label running past the end", Uint8Array.from([...query().subarray(0, 12), 20, 0x61, 0x62])],
      ["a name without its root label", Uint8Array.from([...query().subarray(0, 12), 3, 0x63, 0x6f, 0x6d])],
      ["no QTYPE/QCLASS", Uint8Array.from([...query().subarray(0, 12), ...wireName("example.com")])],
      ["half a QCLASS", query().subarray(0, query().length - 1)],
    ];
    for (const [what, bytes] of dropped) expect(captiveAnswer(bytes, PLUG), what).toBeUndefined();
  });

  it("answers a query of exactly 512 bytes", () => {
    const q = query({ arcount: 1, extra: new Array(MAX_DNS_QUERY_BYTES - query().length).fill(0) });
    expect(q.length).toBe(MAX_DNS_QUERY_BYTES);
    expect(counts(captiveAnswer(q, PLUG)!)).toEqual([1, 1, 0, 0]);
  });

  it("does not change the query", () => {
    const q = query({ arcount: 1, extra: [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0] });
    const copy = q.slice();
    captiveAnswer(q, PLUG);
    expect(q).toEqual(copy);
  });

  it("refuses an address that is not 4 bytes", () => {
    expect(() => captiveAnswer(query(), new Uint8Array(16))).toThrow(RangeError);
  });
});

describe("ipv4Bytes", () => {
  it("reads dotted-quad addresses", () => {
    expect(ipv4Bytes("192.168.0.1")).toEqual(Uint8Array.of(192, 168, 0, 1));
    expect(ipv4Bytes("192.168.4.1")).toEqual(Uint8Array.of(192, 168, 4, 1));
    expect(ipv4Bytes("0.0.0.0")).toEqual(Uint8Array.of(0, 0, 0, 0));
    expect(ipv4Bytes("255.255.255.255")).toEqual(Uint8Array.of(255, 255, 255, 255));
    expect(ipv4Bytes("10.0.100.200")).toEqual(Uint8Array.of(10, 0, 100, 200));
  });

  it("rejects anything else, leading zeros included", () => {
    const bad = ["256.1.1.1", "1.2.3", "1.2.3.4.5", "a.b.c.d", "", "01.2.3.4", "1.2.3.00", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 "];
    bad.push(" 1.2.3.4", "1.2.3.-4", "1.2.3.1000", "\u0661.\u0662.\u0663.\u0664", "1.2.3.4/24", "0x1.2.3.4", "1.2.3.4\u0000");
    for (const text of bad) expect(ipv4Bytes(text), JSON.stringify(text)).toBeUndefined();
  });

  it("agrees with Node's net.isIPv4", async () => {
    const { isIPv4 } = await import("node:net");
    const samples = ["1.2.3.4", "01.2.3.4", "1.2.3.04", "0.0.0.0", "255.255.255.255", "256.0.0.0", "1.2.3", "1.2.3.4.", "9.99.199.249"];
    for (const text of samples) {
      expect(ipv4Bytes(text) !== undefined, text).toBe(isIPv4(text));
    }
  });
});
