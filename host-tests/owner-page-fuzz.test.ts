// Property-based fuzzing of the owner's page's HTTP parser (src/core/owner/owner-page.ts): random and
// mutated requests, cut into random fragments, never make it throw; every answer is a well-formed
// status line with a 2xx or 4xx; the outcome does not depend on how the bytes were cut; and every
// connection is gone once the frame deadline has passed (nothing a client sent is kept).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEVICE_LIMITS } from "../src/core/limits.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { OWNER_PAGE } from "../src/core/owner/page.js";
import { concat, fuzzed, fuzzTimeout, split } from "./support/fuzz.js";
import { testPlug, type TestPlug } from "./support/fakes.js";
import { OwnerClient, type Send } from "./support/owner-client.js";

const HOST = "192.168.1.50";
const utf8 = (s: string) => new TextEncoder().encode(s);
/** The most an answer can be: the page and its head. */
const MAX_ANSWER = OWNER_PAGE.join("").length + 1024;

function plug(): TestPlug {
  const t = testPlug({}, { crypto: nodeCrypto }); // DEVICE_LIMITS: an ESP8266's bounds
  t.plug.context.settings.put("owner_hash", "00112233445566778899aabbccddeeff");
  return t;
}

/** Feeds the chunks into a new connection (the client reading everything); the answer's text and whether the connection closed. */
async function feed(t: TestPlug, chunks: readonly Uint8Array[]): Promise<{ text: string; closed: boolean; conn: ReturnType<TestPlug["http"]["connect"]> }> {
  const c = t.http.connect();
  for (const chunk of chunks) {
    c.handler.data(chunk);
    c.take();
  }
  for (let i = 0; i < 20 && !c.closed; i++) {
    await Promise.resolve();
    c.take();
  }
  return { text: c.text, closed: c.closed, conn: c };
}

/** Every answer: nothing yet, or a status line of 200-299 or 400-499, and no more than the page. */
function wellFormed(text: string): void {
  if (text === "") return;
  expect(text).toMatch(/^HTTP\/1\.1 (2\d\d|4\d\d) [A-Za-z ]+\r\n/);
  expect(text.length).toBeLessThanOrEqual(MAX_ANSWER);
}

/** Bytes that look like HTTP often enough to reach past the request line: tokens, random bytes, CRLFs. */
const httpish = fc
  .array(
    fc.oneof(
      fc.constantFrom("GET ", "POST ", "HEAD ", "/", "/owner/", "hello", "login", "kasa", "status", "update", "?s=", "&q=", "&m=", " HTTP/1.1", "\r\n", "\r\n\r\n",
        "Host: ", HOST, "localhost", "Origin: ", `http://${HOST}`, "Content-Length: ", "Transfer-Encoding: chunked", "0", "16", "32", "4294967296", "-1", ":", "00".repeat(16)),
      fc.string({ maxLength: 12 }),
      fc.uint8Array({ maxLength: 40 }).map((b) => String.fromCharCode(...b)),
    ),
    { maxLength: 60 },
  )
  .map((parts) => Uint8Array.from(parts.join(""), (c) => c.charCodeAt(0) & 0xff));

describe("the owner's page's HTTP parser under fuzzing", () => {
  it("takes random bytes, cut anywhere, without throwing; answers well-formed; lets every connection go by the deadline", async () => {
    const t = plug();
    await fc.assert(
      fc.asyncProperty(fc.oneof(httpish, fc.uint8Array({ maxLength: 3000 })), fc.array(fc.nat(), { maxLength: 12 }), async (bytes, cuts) => {
        const r = await feed(t, split(bytes, cuts));
        wellFormed(r.text);
        t.timers.advance(DEVICE_LIMITS.frameDeadlineMs + 2000);
        expect(r.conn.closed).toBe(true);
        expect(t.plug.context.device.relay).toBe(false);
      }),
      fuzzed(300),
    );
    t.timers.advance(DEVICE_LIMITS.idleMs * 2);
  }, fuzzTimeout());

  it("gives the same answer whatever the cuts", async () => {
    await fc.assert(
      fc.asyncProperty(httpish, fc.array(fc.nat(), { maxLength: 12 }), async (bytes, cuts) => {
        const whole = await feed(plug(), [bytes]);
        const cut = await feed(plug(), split(bytes, cuts));
        expect(cut.text).toBe(whole.text);
        expect(cut.closed).toBe(whole.closed);
      }),
      fuzzed(150),
    );
  }, fuzzTimeout());

  it("takes mutated log-ins and MAC'd requests (bytes flipped, cut short, extended) without throwing, answering well-formed", async () => {
    const t = plug();
    // a real session, and requests that are valid before they are mutated
    const send: Send = async (path, body) => {
      const b = typeof body === "string" ? utf8(body) : body;
      const r = await feed(t, [concat([utf8(`POST ${path} HTTP/1.1\r\nHost: ${HOST}\r\nOrigin: http://${HOST}\r\nContent-Length: ${b.length}\r\n\r\n`), b])]);
      const at = r.text.indexOf("\r\n\r\n");
      return { status: Number(r.text.slice(9, 12)), text: r.text.slice(at + 4) };
    };
    const client = new OwnerClient(send);
    t.plug.context.settings.put("owner_hash", Buffer.from(nodeCrypto.md5(nodeCrypto.md5(utf8("u@example.com")), nodeCrypto.md5(utf8("a-strong-password-1")))).toString("hex"));
    expect(await client.login("u@example.com", "a-strong-password-1")).toBe(200);
    const request = (seq: number) => {
      const body = utf8(JSON.stringify({ system: { get_sysinfo: {} } }));
      return concat([utf8(`POST ${client.next("kasa", body, seq)} HTTP/1.1\r\nHost: ${HOST}\r\nOrigin: http://${HOST}\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    };
    let seq = 1000;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (flips, cutAt, extra, cuts) => {
          const bytes = request(++seq);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const mutated = concat([bytes.subarray(0, cutAt % (bytes.length + 1) || bytes.length), extra]);
          const r = await feed(t, split(mutated, cuts));
          wellFormed(r.text);
          t.timers.advance(DEVICE_LIMITS.frameDeadlineMs + 2000);
          expect(r.conn.closed).toBe(true);
        },
      ),
      fuzzed(300),
    );
    // the page still serves the owner after all of it
    expect(await client.login("u@example.com", "a-strong-password-1")).toBe(200);
    expect((await client.status()).status).toBe(200);
  }, fuzzTimeout());
});
