// A socket-level fuzz run against the host plug: over 100,000 random and malformed frames on real
// loopback connections (random bodies, random and mutated JSON, tiny writes, pipelines, overfull
// pipelines, oversize lengths, garbage, connections cut mid-frame) and random UDP datagrams, with a
// clean client checking between them that the plug still answers correctly. Seeded: a FUZZ_SEED
// sends the same bytes on every run. docs/FUZZING.md has the counts of a run.
//
// It stays inside the server's limits on purpose: 8 connections at a time (of 32), no frame left
// unfinished (a 5 s deadline), random UDP in bursts with a pause before the clean client's discovery
// (4 answers a second). Fuzzed requests never switch the relay (the flood guard would hold the clean
// client's switch for up to its 20 s window), restart the plug, or set the clock (rules stay off: -11,
// so no rule switches the relay either); fuzz-dispatcher.test.ts covers those methods.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualPlug } from "../src/host/virtual-plug.js";
import { MAX_QUEUED_FRAMES } from "../src/core/protocol/server.js";
import { decodeDatagram, MAX_FRAME_BYTES } from "../src/core/protocol/wire/frame.js";
import { encodeDatagram, encodeFrame } from "./support/wire.js";
import { utf8Decode } from "../src/core/protocol/wire/utf8.js";
import { decrypt } from "../src/core/protocol/wire/xor.js";
import { answerProblems, concat, FUZZ_SEED, fuzzTimeout, isObject, jsonArb, lengthHeader, mutatedRequestArb, PYTHON_KASA_UPDATE, REAL_REQUESTS, requestShapedArb, runs } from "./support/fuzz.js";
import { RawClient, udpAsk } from "./support/raw-client.js";
import { report } from "./support/report.js";

/** Frames to send over TCP in all (FUZZ_RUNS scales it). */
const TARGET_FRAMES = runs(100_000);
const WORKERS = 8;
const PHASES = 4;
/** Random datagrams per phase, sent as fast as the socket takes them. */
const UDP_PER_PHASE = 400;
/** Quiet time before the clean client's discovery: the UDP budget refills (4 answers a second, 8 at once). */
const UDP_PAUSE_MS = 2000;
const ANSWER_TIMEOUT_MS = 5000;

/** mulberry32: a small seeded PRNG, so that every worker sends the same bytes on every run. */
class Prng {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** A key of `weights`, drawn in proportion to its weight. */
  weighted<K extends string>(weights: { readonly [key in K]: number }): K {
    const entries = Object.entries(weights) as [K, number][];
    let r = this.next() * entries.reduce((sum, [, w]) => sum + w, 0);
    for (const [key, w] of entries) if ((r -= w) < 0) return key;
    return entries[entries.length - 1][0];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What the run must not send (see the top of the file): a relay switch (state 0/1/true/false
 * becomes 2), a restart or reset, a clock change. Everything else stays as generated.
 */
function defused(text: string): string {
  const request: unknown = JSON.parse(text);
  if (!isObject(request)) return text;
  const { system, time } = request;
  if (isObject(system)) {
    delete system.reboot;
    delete system.reset;
    const relay = system.set_relay_state;
    if (isObject(relay) && [0, 1, true, false].includes(relay.state as number)) relay.state = 2;
  }
  if (isObject(time)) {
    delete time.set_time;
    delete time.set_timezone;
  }
  return JSON.stringify(request);
}

interface Pooled {
  text: string;
  frame: Uint8Array;
}

type PoolKind = "randomJson" | "requestShaped" | "mutated" | "real";

/** Requests drawn once from the fast-check arbitraries of the dispatcher fuzz, with the run's seed. */
function pools(): { [kind in PoolKind]: Pooled[] } {
  const pooled = (texts: string[]) => texts.map(defused).map((text) => ({ text, frame: encodeFrame(text) }));
  const socketSafe = REAL_REQUESTS.filter((r) => r.socket);
  return {
    randomJson: pooled(fc.sample(fc.oneof(jsonArb.map((v) => JSON.stringify(v)), fc.json({ maxDepth: 10 })), { seed: FUZZ_SEED, numRuns: 800 })),
    requestShaped: pooled(fc.sample(requestShapedArb, { seed: FUZZ_SEED + 1, numRuns: 800 })),
    mutated: pooled(fc.sample(mutatedRequestArb(socketSafe).map((m) => m.text), { seed: FUZZ_SEED + 2, numRuns: 2000 })),
    real: pooled(socketSafe.map((r) => JSON.stringify(r.request))),
  };
}

/** A frame body length: mostly short, sometimes up to the bound. */
function bodyLength(rng: Prng): number {
  const r = rng.next();
  if (r < 0.6) return rng.int(65);
  if (r < 0.9) return 65 + rng.int(960);
  if (r < 0.99) return 1025 + rng.int(3072);
  return 4097 + rng.int(MAX_FRAME_BYTES - 4096);
}

const FRAME_KINDS = { randomBody: 40, randomJson: 12, requestShaped: 15, mutated: 28, real: 5 } as const;
type FrameKind = keyof typeof FRAME_KINDS;

const ENDINGS = { fin: 30, reset: 15, cutThenFin: 10, cutThenReset: 10, oversize: 10, garbage: 10, overfull: 15 } as const;
type Ending = keyof typeof ENDINGS;

interface Counts {
  /** Frames sent, by kind: the first five with a valid header, then the malformed ones. */
  frames: { [kind in FrameKind | "overfull" | "oversize" | "garbage" | "cut"]: number };
  /** Frames sent in pieces of 1-7 bytes (a batch's first 96 bytes), and writes holding several frames. */
  inTinyWrites: number;
  pipelinedWrites: number;
  connections: number;
  endings: { [ending in Ending]: number };
  /** Answers to the batches (every valid frame on a connection the plug keeps open is owed one), and to overfull pipelines. */
  answers: number;
  owed: number;
  overfullAnswers: number;
  /** Connections the plug closed on its own (oversize, garbage, overfull), and after the client's FIN. */
  closedByPlug: number;
  closedAfterFin: number;
  /** Overfull pipelines (more than MAX_QUEUED_FRAMES in one write): answered whole, or closed. */
  overfullAnsweredWhole: number;
  overfullClosed: number;
  /** Datagrams sent, by kind; answers received (and any that was not a JSON object: none may be). */
  udp: { sent: number; answered: number; notAnObject: number; random: number; requests: number; oversize: number; empty: number };
  checks: number;
}

const counts: Counts = {
  frames: { randomBody: 0, randomJson: 0, requestShaped: 0, mutated: 0, real: 0, overfull: 0, oversize: 0, garbage: 0, cut: 0 },
  inTinyWrites: 0,
  pipelinedWrites: 0,
  connections: 0,
  endings: { fin: 0, reset: 0, cutThenFin: 0, cutThenReset: 0, oversize: 0, garbage: 0, overfull: 0 },
  answers: 0,
  owed: 0,
  overfullAnswers: 0,
  closedByPlug: 0,
  closedAfterFin: 0,
  overfullAnsweredWhole: 0,
  overfullClosed: 0,
  udp: { sent: 0, answered: 0, notAnObject: 0, random: 0, requests: 0, oversize: 0, empty: 0 },
  checks: 0,
};

const totalFrames = () => Object.values(counts.frames).reduce((a, b) => a + b, 0);

let plug: VirtualPlug;
let dir: string;
const lines: string[] = [];
let pool: ReturnType<typeof pools>;
let lastUdpAt = 0;

beforeAll(async () => {
  // in memory where there is such a place: the plug syncs every settings write to disk, and the run
  // is about the plug, not the disk (some thousands of fuzzed requests are accepted writes)
  dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "plug-fuzz-"));
  // noTime: rule changes answer -11, so no fuzzed rule can switch the relay during the run
  plug = await VirtualPlug.start({ port: 0, httpPort: 0, stateDir: dir, model: "HS110", noTime: true, log: (l) => lines.push(l), rebootMs: 50 });
  pool = pools();
});

afterAll(() => {
  plug?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** One frame with a valid header: its bytes and the request text the plug will read from it. */
function validFrame(rng: Prng): { kind: FrameKind; bytes: Uint8Array; text: () => string } {
  const kind = rng.weighted(FRAME_KINDS);
  if (kind !== "randomBody") {
    const p = rng.pick(pool[kind]);
    return { kind, bytes: p.frame, text: () => p.text };
  }
  const body = rng.bytes(bodyLength(rng));
  return { kind, bytes: concat([lengthHeader(body.length), body]), text: () => utf8Decode(decrypt(body.slice())) };
}

/** Writes `bytes` as the run's tiny writes: the first 96 bytes in pieces of 1-7, each its own segment, then the rest in one to three writes. */
async function tinyWrites(c: RawClient, bytes: Uint8Array, rng: Prng): Promise<void> {
  let at = 0;
  while (at < Math.min(bytes.length, 96)) {
    const n = 1 + rng.int(7);
    c.write(bytes.subarray(at, at + n));
    at += n;
    await new Promise((r) => setImmediate(r));
  }
  while (at < bytes.length) {
    const n = Math.max(1, Math.ceil((bytes.length - at) / (1 + rng.int(3))));
    c.write(bytes.subarray(at, at + n));
    at += n;
  }
}

function expectAnswer(text: string, answer: string): void {
  const problems = answerProblems(text, answer);
  if (problems.length > 0) throw new Error(`${problems.join("; ")}\nrequest: ${text.slice(0, 300)}\nanswer: ${answer.slice(0, 300)}`);
}

/** Waits for `n` answers and checks each; returns how many came before the plug closed (the rest are then missing). */
async function answers(c: RawClient, frames: readonly { text: () => string }[]): Promise<number> {
  let got = 0;
  for (const f of frames) {
    let answer: string;
    try {
      answer = await c.frame(ANSWER_TIMEOUT_MS);
    } catch (e) {
      if (c.closed) return got;
      throw e;
    }
    expectAnswer(f.text(), answer);
    got++;
  }
  return got;
}

/** How a fuzzing connection ends; returns the frames it sent. */
async function end(c: RawClient, ending: Ending, rng: Prng): Promise<number> {
  counts.endings[ending]++;
  let sent = 0;
  if (ending === "fin") {
    c.end();
    expect(await c.waitClosed(ANSWER_TIMEOUT_MS)).toBe(true);
    counts.closedAfterFin++;
  } else if (ending === "reset") c.destroy();
  else if (ending === "cutThenFin" || ending === "cutThenReset") {
    // a frame cut short: the header and part of the body, maybe in two writes
    const length = 2 + rng.int(600);
    const bytes = concat([lengthHeader(length), rng.bytes(rng.int(length))]);
    const cut = rng.int(bytes.length + 1);
    c.write(bytes.subarray(0, cut));
    if (cut < bytes.length) c.write(bytes.subarray(cut));
    counts.frames.cut++;
    sent = 1;
    if (ending === "cutThenReset") c.destroy();
    else {
      c.end();
      expect(await c.waitClosed(ANSWER_TIMEOUT_MS)).toBe(true);
      counts.closedAfterFin++;
    }
  } else if (ending === "oversize" || ending === "garbage") {
    // a length over the bound, or bytes whose first byte alone makes the length 16 MiB or more
    const bytes =
      ending === "oversize"
        ? concat([lengthHeader(MAX_FRAME_BYTES + 1 + rng.int(0xffffffff - MAX_FRAME_BYTES)), rng.bytes(rng.int(33))])
        : concat([Uint8Array.of(1 + rng.int(255)), rng.bytes(3 + rng.int(250))]);
    c.write(bytes);
    counts.frames[ending]++;
    sent = 1;
    expect(await c.waitClosed(ANSWER_TIMEOUT_MS)).toBe(true);
    counts.closedByPlug++;
    c.destroy();
  } else {
    // more frames in one write than a connection may have waiting: answered whole or closed
    const frames = Array.from({ length: MAX_QUEUED_FRAMES + 1 + rng.int(8) }, () => validFrame(rng));
    c.write(concat(frames.map((f) => f.bytes)));
    counts.frames.overfull += frames.length;
    sent = frames.length;
    const got = await answers(c, frames);
    counts.overfullAnswers += got;
    if (got === frames.length) counts.overfullAnsweredWhole++;
    else {
      expect(c.closed).toBe(true);
      counts.overfullClosed++;
      counts.closedByPlug++;
    }
    c.destroy();
  }
  return sent;
}

/** One fuzzing client: connections one after another, each some batches of pipelined frames and an ending, until `quota` frames. */
async function worker(rng: Prng, quota: number): Promise<void> {
  let sent = 0;
  while (sent < quota) {
    const c = await RawClient.connect(plug.port);
    c.socket.setNoDelay(true);
    counts.connections++;
    const batches = 1 + rng.int(24);
    for (let b = 0; b < batches && sent < quota; b++) {
      const frames = Array.from({ length: 1 + rng.int(MAX_QUEUED_FRAMES) }, () => validFrame(rng));
      const bytes = concat(frames.map((f) => f.bytes));
      if (rng.chance(0.08)) {
        await tinyWrites(c, bytes, rng);
        counts.inTinyWrites += frames.length;
      } else c.write(bytes);
      if (frames.length > 1) counts.pipelinedWrites++;
      for (const f of frames) counts.frames[f.kind]++;
      counts.owed += frames.length;
      const got = await answers(c, frames);
      counts.answers += got;
      if (got < frames.length) throw new Error(`the plug closed a connection after ${got} of ${frames.length} pipelined frames`);
      sent += frames.length;
    }
    sent += await end(c, rng.weighted(ENDINGS), rng);
  }
}

/** Random datagrams: random bytes, encrypted random and mutated requests, empty ones and oversize ones. */
async function udpBurst(rng: Prng): Promise<void> {
  const socket = createSocket("udp4");
  socket.on("message", (msg) => {
    counts.udp.answered++;
    try {
      if (!isObject(JSON.parse(decodeDatagram(msg)))) counts.udp.notAnObject++;
    } catch {
      counts.udp.notAnObject++;
    }
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  for (let i = 0; i < UDP_PER_PHASE; i++) {
    const r = rng.next();
    let bytes: Uint8Array;
    if (r < 0.5) {
      bytes = rng.bytes(1 + rng.int(1472));
      counts.udp.random++;
    } else if (r < 0.95) {
      bytes = encodeDatagram(rng.pick(pool[rng.pick(["randomJson", "requestShaped", "mutated", "real"] as const)]).text);
      counts.udp.requests++;
    } else if (r < 0.98) {
      bytes = rng.bytes(MAX_FRAME_BYTES + 1 + rng.int(40000));
      counts.udp.oversize++;
    } else {
      bytes = new Uint8Array(0);
      counts.udp.empty++;
    }
    socket.send(bytes, plug.port, "127.0.0.1");
    counts.udp.sent++;
    if (i % 16 === 0) await new Promise((r) => setImmediate(r));
  }
  lastUdpAt = Date.now();
  await sleep(300); // late answers still count
  socket.close();
}

/** A clean client: sysinfo over TCP, a relay switch read back, python-kasa's update, then discovery over UDP after a quiet spell. */
async function cleanCheck(): Promise<void> {
  const c = await RawClient.connect(plug.port);
  const ask = async (request: unknown) => {
    const text = JSON.stringify(request);
    c.write(text);
    const answer = await c.frame(ANSWER_TIMEOUT_MS);
    expectAnswer(text, answer);
    return JSON.parse(answer);
  };
  const sysinfo = async () => (await ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
  const info = await sysinfo();
  expect(info).toMatchObject({ err_code: 0, model: "HS110(EU)", deviceId: plug.plug.context.device.identity.deviceId });
  const want = info.relay_state === 1 ? 0 : 1;
  expect((await ask({ system: { set_relay_state: { state: want } } })).system.set_relay_state).toEqual({ err_code: 0 });
  // the flood guard may hold a change: poll the read-back
  const until = Date.now() + 5000;
  while ((await sysinfo()).relay_state !== want) {
    if (Date.now() > until) throw new Error(`relay_state did not become ${want}`);
    await sleep(50);
  }
  expect(plug.relay.on).toBe(want === 1);
  const update = await ask(PYTHON_KASA_UPDATE);
  expect(update.system.get_sysinfo.relay_state).toBe(want);
  c.end();
  expect(await c.waitClosed(ANSWER_TIMEOUT_MS)).toBe(true);
  await sleep(lastUdpAt + UDP_PAUSE_MS - Date.now());
  const { text, fromPort } = await udpAsk(plug.port, '{"system":{"get_sysinfo":{}}}', 2000);
  expect(fromPort).toBe(plug.port);
  expect(JSON.parse(text).system.get_sysinfo).toMatchObject({ err_code: 0, relay_state: want });
  counts.checks++;
}

describe("host plug under a socket-level fuzz run", () => {
  it(`takes ${TARGET_FRAMES} random and malformed frames and random datagrams, and still answers every client correctly`, async () => {
    const started = performance.now();
    await cleanCheck();
    const rngs = Array.from({ length: WORKERS }, (_, w) => new Prng(FUZZ_SEED * 131 + w));
    const udpRng = new Prng(FUZZ_SEED * 131 + WORKERS);
    const quota = Math.ceil(TARGET_FRAMES / (WORKERS * PHASES));
    for (let phase = 0; phase < PHASES; phase++) {
      // the clean client runs while the fuzzing connections keep going; UDP goes quiet before its discovery
      await Promise.all([...rngs.map((rng) => worker(rng, quota)), udpBurst(udpRng).then(cleanCheck)]);
    }
    const fuzzSeconds = (performance.now() - started) / 1000;
    await cleanCheck();
    // no connection slot was lost: many clients at once are all answered
    const clients = await Promise.all(Array.from({ length: 24 }, () => RawClient.connect(plug.port)));
    for (const answer of await Promise.all(clients.map((c) => c.ask({ system: { get_sysinfo: {} } })))) expect(answer.system.get_sysinfo.err_code).toBe(0);
    for (const c of clients) c.destroy();

    const logged = (pattern: RegExp) => lines.filter((l) => pattern.test(l)).length;
    const summary = {
      seed: FUZZ_SEED,
      seconds: Number(fuzzSeconds.toFixed(1)),
      framesSent: totalFrames(),
      ...counts,
      plugLog: {
        frameTooLarge: logged(/frame too large/),
        tooManyQueued: logged(/too many queued/),
        refused: logged(/connection refused/),
        deadline: logged(/not finished in time|idle connection/),
        udpUnanswered: logged(/left unanswered/),
        lines: lines.length,
      },
    };
    report(`socket fuzz run: ${JSON.stringify(summary, null, 1)}`);

    expect(totalFrames()).toBeGreaterThanOrEqual(TARGET_FRAMES);
    expect(counts.answers).toBe(counts.owed);
    expect(counts.owed).toBe(totalFrames() - counts.frames.overfull - counts.frames.oversize - counts.frames.garbage - counts.frames.cut);
    expect(counts.closedByPlug).toBe(counts.endings.oversize + counts.endings.garbage + counts.overfullClosed);
    expect(counts.checks).toBe(PHASES + 2);
    expect(counts.udp.answered).toBeGreaterThan(0);
    expect(counts.udp.notAnObject).toBe(0);
    // nothing threw inside the plug (a Wi-Fi join that fails is not a fault)
    expect(lines.filter((l) => / failed: /.test(l) && !l.startsWith("joining "))).toEqual([]);
  }, fuzzTimeout(120_000));
});
