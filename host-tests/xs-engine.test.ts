// XS engine check: the core, bundled into one plain script, runs inside the real XS engine (the
// xsnap-worker that @agoric/xsnap compiles from Moddable's C sources when npm installs it) and must
// answer the corpus byte for byte as it does on Node.
//
// The XS side runs in a child process (host-tests/xs/run-xsnap.mjs): xsnap's API needs SES, whose
// '@endo/init' would lock down this process's globals. Nothing is skipped when xsnap is missing or
// the XS run fails: every test awaits the one shared run, so every test then fails with its error.
// `npm ci` does not build xsnap's worker (.npmrc: ignore-scripts): this file builds it on first use
// (scripts/xsnap.mjs), saying so; where it cannot be built (no make or no C compiler) the file is
// one failing test whose message is one line saying what to install.
//
// The same run measures what the core allocates in XS for a few requests to a plug with every rule
// table full, and what it keeps live; host-tests/xs/alloc-budget.ts holds the budget they must stay
// within (CI's guard against memory growth: the chip-true check needs the Moddable SDK).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ensureXsnap } from "../scripts/xsnap.mjs";
import { report } from "./support/report.js";
import { bundleFor, runDriver as runXs } from "./support/xs-run.js";
import { FrameDecoder } from "../src/core/protocol/wire/frame.js";
import { MAX_AWAY_RULES } from "../src/core/modules/anti_theft.js";
import { MAX_SCHEDULE_RULES } from "../src/core/modules/schedule.js";
import { MAX_RULE_NAME_BYTES } from "../src/core/rules/rules.js";
import { utf8Decode, utf8Length } from "../src/core/protocol/wire/utf8.js";
import { ALLOC_BUDGET } from "./xs/alloc-budget.js";
import {
  ALIAS_60_BYTES, ALIAS_KUECHE, BUDGET_SEQUENCE, CAPTURED_RELAY_ANSWER, corpus, fullRuleName, NEW_NAMES_REQUESTS, NEW_NAMES_SEQUENCE, toHex,
} from "./xs/corpus.js";
import { answer, startPlug } from "./xs/entry.js";
import { jsCrypto } from "./xs/js-crypto.js";
import { klapExpected, klapMismatches, klapResults, type KlapResult, type KlapVectors } from "./xs/klap-check.js";
import { nodeCrypto } from "../src/host/crypto.js";

const ENTRY = fileURLToPath(new URL("./xs/entry.ts", import.meta.url));
const KLAP_ENTRY = fileURLToPath(new URL("./xs/klap-entry.ts", import.meta.url));
/** For the whole run (bundle, Node, xsnap start and the corpus); it takes a few seconds. */
const TIMEOUT_MS = 60_000;

interface DriverOutput {
  engine: string;
  strict: boolean;
  ms: { startAndLoad: number; requests: number };
  sequences: { name: string; answers: string[]; memory?: SequenceMemory; heaps?: HeapPoint[] }[];
}

/** The live heap before a request of a sequence (run-xsnap.mjs, "heapAt"). */
interface HeapPoint {
  at: number;
  liveSlots: number;
  snapshotBytes: number;
}

/** What run-xsnap.mjs measured for a sequence with measured requests (see its header). */
interface SequenceMemory {
  commands: { index: number; slots: number; compute: number; allocate: number }[];
  retained: { liveSlots: number; snapshotBytes: number };
}

interface Results {
  xs: DriverOutput;
  /** Answers as hex, by sequence name, in request order. */
  node: Map<string, string[]>;
  xsAnswers: Map<string, string[]>;
}

const sequences = corpus();
const requestCount = sequences.reduce((n, s) => n + s.requests.length, 0);
let dir = "";

/** The plaintext of one answer frame. */
function decodeAnswer(hex: string): string {
  const texts: string[] = [];
  const bytes = Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
  const decoder = new FrameDecoder(Number.MAX_SAFE_INTEGER); // answers may exceed the request bound
  decoder.feed(bytes, (p) => texts.push(utf8Decode(p)));
  if (texts.length !== 1 || decoder.pending) throw new Error(`not one answer frame: ${hex.slice(0, 40)}`);
  return texts[0];
}

const runDriver = (bundle: string, corpusFile: string) => runXs<DriverOutput>(bundle, corpusFile, TIMEOUT_MS - 10_000);

async function run(): Promise<Results> {
  dir = mkdtempSync(join(tmpdir(), "kasa-xs-"));
  const t0 = performance.now();
  const bundle = join(dir, "core.js");
  await bundleFor(ENTRY, bundle);
  const corpusFile = join(dir, "corpus.json");
  const forDriver = sequences.map((s) => ({
    name: s.name,
    model: s.model,
    frames: s.requests.map((r) => toHex(r.frame)),
    measure: s.requests.flatMap((r, i) => (r.measure ? [i] : [])),
    heapAt: s.heapAt,
  }));
  writeFileSync(corpusFile, JSON.stringify(forDriver));
  const t1 = performance.now();

  // Node and XS run at the same time: the XS side is another process.
  const xsRun = runDriver(bundle, corpusFile);
  xsRun.catch(() => {}); // awaited below; an early failure is not "unhandled" meanwhile
  const node = new Map<string, string[]>();
  for (const s of sequences) {
    startPlug(s.model);
    const answers: string[] = [];
    for (const r of s.requests) answers.push(toHex(await answer(r.frame)));
    node.set(s.name, answers);
  }
  const t2 = performance.now();
  const xs = await xsRun;
  const t3 = performance.now();

  const memory = xs.sequences.find((s) => s.name === BUDGET_SEQUENCE)?.memory;
  const budgeted = sequences.find((s) => s.name === BUDGET_SEQUENCE)!;
  const [first, last] = xs.sequences.find((s) => s.name === NEW_NAMES_SEQUENCE)?.heaps ?? [];
  report(
    `XS engine check: ${xs.engine}; ${requestCount} frames in ${sequences.length} sequences ` +
      `(${sequences.map((s) => `${s.name} ${s.requests.length}`).join(", ")}); ` +
      `bundle ${Math.round(t1 - t0)} ms, Node ${Math.round(t2 - t1)} ms, XS process ${Math.round(t3 - t1)} ms ` +
      `(xsnap start + bundle ${xs.ms.startAndLoad} ms, requests ${xs.ms.requests} ms); ` +
      `slots allocated (${BUDGET_SEQUENCE}): ${(memory?.commands ?? []).map((c) => `${budgeted.requests[c.index].label} ${c.slots}`).join(", ")}; ` +
      `retained ${memory?.retained.liveSlots} slots, ${memory?.retained.snapshotBytes} snapshot bytes; ` +
      `${NEW_NAMES_REQUESTS} requests with new names left ${last?.liveSlots - first?.liveSlots} slots, ` +
      `${last?.snapshotBytes - first?.snapshotBytes} snapshot bytes live`,
  );
  return { xs, node, xsAnswers: new Map(xs.sequences.map((s) => [s.name, s.answers])) };
}

let pending: Promise<Results> | undefined;
/** The one run every test looks at, started by whichever test comes first. */
const results = () => (pending ??= run());

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Why the XS engine cannot run here (one line), or undefined once its worker is built (now, if need be). */
const notBuilt = await ensureXsnap().then(() => undefined, (error: Error) => error);

if (notBuilt !== undefined) {
  describe("XS engine check (@agoric/xsnap)", () => {
    it("has the XS engine: @agoric/xsnap's worker is built", () => {
      throw notBuilt;
    });
  });
} else describe("XS engine check (@agoric/xsnap)", { timeout: TIMEOUT_MS }, () => {
  it("runs the bundled core in XS as strict code", async () => {
    const { xs } = await results();
    expect(xs.engine).toMatch(/^xsnap \d+\.\d+\.\d+ \(XS \d+\.\d+\.\d+\)$/);
    expect(xs.strict).toBe(true);
    expect(xs.sequences.map((s) => s.name)).toEqual(sequences.map((s) => s.name));
  });

  for (const s of sequences) {
    it(`${s.name}: XS answers all ${s.requests.length} requests byte for byte as Node`, async () => {
      const r = await results();
      const node = r.node.get(s.name)!;
      const inXs = r.xsAnswers.get(s.name)!;
      expect(inXs.length).toBe(s.requests.length);
      const differing = s.requests.map((_, i) => i).filter((i) => inXs[i] !== node[i]);
      if (differing.length > 0) {
        // The first difference as label and plaintext (then bytes), so that it reads as JSON in the diff.
        const i = differing[0];
        const show = (hex: string, withHex: boolean) => ({ label: s.requests[i].label, text: decodeAnswer(hex), ...(withHex ? { hex } : {}) });
        const what = `${differing.length} of ${s.requests.length} answers differ, the first at #${i}`;
        expect(show(inXs[i], false), what).toEqual(show(node[i], false));
        expect(show(inXs[i], true), what).toEqual(show(node[i], true));
      }
      expect(differing.map((i) => s.requests[i].label)).toEqual([]);
    });
  }

  describe(`allocation budget (host-tests/xs/alloc-budget.ts), sequence ${BUDGET_SEQUENCE}`, () => {
    const budgeted = sequences.find((s) => s.name === BUDGET_SEQUENCE)!;
    const measuredLabels = budgeted.requests.filter((r) => r.measure).map((r) => r.label);
    const memory = async () => {
      const m = (await results()).xs.sequences.find((s) => s.name === BUDGET_SEQUENCE)?.memory;
      if (m === undefined) throw new Error(`the XS run reported no memory figures for ${BUDGET_SEQUENCE}`);
      return m;
    };
    const onChip = (slots: number) => `${slots.toLocaleString("en")} slots (${(16 * slots).toLocaleString("en")} bytes as 16-byte ESP8266 slots)`;
    const revise = "revised only with a chip-true run recorded in docs/MEMORY.md (npm run sim:memory)";

    it("was measured with this engine, and budgets exactly the measured requests", async () => {
      const { xs } = await results();
      expect(xs.engine, `alloc-budget.ts was measured with ${ALLOC_BUDGET.engine}: measure again with ${xs.engine}`).toBe(ALLOC_BUDGET.engine);
      expect(Object.keys(ALLOC_BUDGET.commands).sort()).toEqual([...measuredLabels].sort());
    });

    for (const engine of ["node", "xs"] as const) {
      it(`${engine}: fills every rule table before the measured requests`, async () => {
        const r = await results();
        const answers = (engine === "node" ? r.node : r.xsAnswers).get(BUDGET_SEQUENCE)!;
        const at = (label: string) => JSON.parse(decodeAnswer(answers[budgeted.requests.findIndex((q) => q.label === label)]));
        for (let i = 0; i < MAX_SCHEDULE_RULES; i++) expect(at(`schedule rule ${i}`).schedule.add_rule.err_code, `schedule rule ${i}`).toBe(0);
        expect(at("schedule rule refused: table full").schedule.add_rule).toEqual({ err_code: -10, err_msg: "table is full" });
        for (let i = 0; i < MAX_AWAY_RULES; i++) expect(at(`away rule ${i}`).anti_theft.add_rule.err_code, `away rule ${i}`).toBe(0);
        expect(at("countdown").count_down.add_rule.err_code).toBe(0);
        const names = (list: { name: string }[]) => list.map((rule) => rule.name);
        const full = (n: number) => Array.from({ length: n }, (_, i) => fullRuleName(i));
        expect(names(at("schedule.get_rules").schedule.get_rules.rule_list)).toEqual(full(MAX_SCHEDULE_RULES));
        expect(names(at("anti_theft.get_rules").anti_theft.get_rules.rule_list)).toEqual(full(MAX_AWAY_RULES));
        expect(names(at("count_down.get_rules").count_down.get_rules.rule_list)).toEqual(full(1));
        expect(names(at("python-kasa update").schedule.get_rules.rule_list)).toHaveLength(MAX_SCHEDULE_RULES);
        expect(utf8Length(fullRuleName(0))).toBe(MAX_RULE_NAME_BYTES);
      });
    }

    for (const label of measuredLabels) {
      it(`${label}: allocates no more slots in XS than its budget`, async () => {
        const index = budgeted.requests.findIndex((r) => r.label === label);
        const measured = (await memory()).commands.find((c) => c.index === index);
        const budget = ALLOC_BUDGET.commands[label]?.slots;
        expect(measured, `no measurement for ${label}`).toBeDefined();
        const { slots, compute, allocate } = measured!;
        // a figure of 0 means nothing was measured: the check could not fail
        for (const [what, value] of Object.entries({ slots, compute, allocate })) {
          expect(Number.isInteger(value) && value > 0, `${label}: xsnap's ${what} is ${value}`).toBe(true);
        }
        expect(budget, `${label} has no budget in alloc-budget.ts`).toBeGreaterThan(0);
        expect(slots, `${label} allocated ${onChip(slots)} in XS, over its budget of ${onChip(budget)}; the budget is ${revise}`)
          .toBeLessThanOrEqual(budget);
      });
    }

    it("keeps no more live than its budget once the tables are full", async () => {
      const { liveSlots, snapshotBytes } = (await memory()).retained;
      const budget = ALLOC_BUDGET.retained;
      expect(liveSlots > 0 && snapshotBytes > 0, `retained: ${liveSlots} slots, ${snapshotBytes} snapshot bytes`).toBe(true);
      expect(liveSlots, `the plug keeps ${onChip(liveSlots)} live, over its budget of ${onChip(budget.liveSlots)}; the budget is ${revise}`)
        .toBeLessThanOrEqual(budget.liveSlots);
      expect(snapshotBytes, `the plug keeps ${snapshotBytes} bytes of XS snapshot live (slots and chunks), over its budget of ${budget.snapshotBytes}; ` +
        `the budget is ${revise}`).toBeLessThanOrEqual(budget.snapshotBytes);
    });
  });

  describe(`names a client makes up (sequence ${NEW_NAMES_SEQUENCE})`, () => {
    // In XS a string used as a property name becomes a key, and a Moddable device never collects keys
    // (mxKeysGarbageCollection is off): a name made a key per request would fill the heap for good.
    // Allowed: the 1 slot and 64 snapshot bytes xsnap keeps of the gc() evaluated at the first point,
    // and a little more for what the plug's state may move (numbers only: no new strings).
    const ALLOWED = { liveSlots: 8, snapshotBytes: 512 };

    it(`${NEW_NAMES_REQUESTS} requests, each with 8 names never sent before, leave nothing live in XS`, async () => {
      const heaps = (await results()).xs.sequences.find((s) => s.name === NEW_NAMES_SEQUENCE)?.heaps ?? [];
      const newNames = sequences.find((s) => s.name === NEW_NAMES_SEQUENCE)!;
      expect(heaps.map((h) => h.at)).toEqual(newNames.heapAt);
      const [before, after] = heaps;
      const live = `live before them ${before.liveSlots} slots, ${before.snapshotBytes} snapshot bytes; after them ${after.liveSlots}, ${after.snapshotBytes}`;
      expect(after.liveSlots - before.liveSlots, `slots kept (${live})`).toBeLessThanOrEqual(ALLOWED.liveSlots);
      expect(after.snapshotBytes - before.snapshotBytes, `snapshot bytes kept (${live})`).toBeLessThanOrEqual(ALLOWED.snapshotBytes);
    });
  });

  describe("sanity of the answers themselves", () => {
    const hs100 = sequences.find((s) => s.name === "HS100")!;
    const at = async (engine: "node" | "xs", label: string) => {
      const i = hs100.requests.findIndex((r) => r.label === label);
      if (i < 0) throw new Error(`no request ${label}`);
      const r = await results();
      return (engine === "node" ? r.node : r.xsAnswers).get("HS100")![i];
    };
    const parsed = async (engine: "node" | "xs", label: string) => JSON.parse(decodeAnswer(await at(engine, label)));

    for (const engine of ["node", "xs"] as const) {
      it(`${engine}: answers the captured relay-on frame with the captured answer`, async () => {
        expect(await at(engine, "captured relay on")).toBe(CAPTURED_RELAY_ANSWER);
        expect(await at(engine, "captured relay on again")).toBe(CAPTURED_RELAY_ANSWER);
      });

      it(`${engine}: reads non-ASCII aliases back, refuses one byte over 60`, async () => {
        expect((await parsed(engine, "alias Küche read back")).system.get_sysinfo.alias).toBe(ALIAS_KUECHE);
        expect((await parsed(engine, "alias 客厅灯")).system.get_sysinfo.alias).toBe("客厅灯");
        expect((await parsed(engine, "alias 60 bytes read back")).system.get_sysinfo.alias).toBe(ALIAS_60_BYTES);
        const over = (await parsed(engine, "alias 61 bytes refused")).system;
        expect(over.set_dev_alias).toEqual({ err_code: -3, err_msg: "invalid argument" });
        expect(over.get_sysinfo.alias).toBe(ALIAS_60_BYTES);
        expect((await parsed(engine, "alias emoji at the limit")).system.set_dev_alias).toEqual({ err_code: 0 });
        expect((await parsed(engine, "alias emoji one over")).system.get_sysinfo.alias).toBe("x".repeat(56) + "🔌");
      });

      it(`${engine}: answers an empty frame and text that is no JSON object with {}`, async () => {
        expect(decodeAnswer(await at(engine, "empty frame"))).toBe("{}");
        expect(decodeAnswer(await at(engine, "not JSON #2"))).toBe("{}");
        expect(decodeAnswer(await at(engine, "JSON but not an object #0"))).toBe("{}");
      });

      it(`${engine}: answers the python-kasa update, on the fixed clock`, async () => {
        const update = await parsed(engine, "python-kasa update");
        expect(update.system.get_sysinfo.relay_state).toBe(1);
        expect(update["smartlife.iot.homekit"]).toEqual({ err_code: -1, err_msg: "module not support" });
        expect((await parsed(engine, "time in the default zone")).time).toEqual({
          get_time: { year: 2024, month: 6, mday: 1, hour: 5, min: 0, sec: 0, err_code: 0 },
          get_timezone: { index: 6, err_code: 0 },
        });
      });
    }
  });
});

// ---- KLAP in XS ----
// The core's KLAP code (auth hashes, handshakes, KlapSession open/seal) in the XS engine, over
// python-kasa's vectors, with the test-only pure-JS crypto (xsnap has no crypto module): what the
// plug computes in XS must be byte for byte what python-kasa computed and what Node computes.

const klapVectors = JSON.parse(readFileSync(new URL("./support/klap-vectors.json", import.meta.url), "utf8")) as KlapVectors;

/** The KLAP results computed inside XS (host-tests/xs/klap-entry.ts through the same driver). */
async function runKlapInXs(): Promise<KlapResult[]> {
  const klapDir = mkdtempSync(join(tmpdir(), "kasa-xs-klap-"));
  try {
    const bundle = join(klapDir, "klap.js");
    await bundleFor(KLAP_ENTRY, bundle);
    const corpusFile = join(klapDir, "corpus.json");
    const frame = Buffer.from(JSON.stringify(klapVectors), "utf8").toString("hex");
    writeFileSync(corpusFile, JSON.stringify([{ name: "KLAP", model: "", frames: [frame] }]));
    const output = await runDriver(bundle, corpusFile);
    return JSON.parse(Buffer.from(output.sequences[0].answers[0], "hex").toString("utf8")) as KlapResult[];
  } finally {
    rmSync(klapDir, { recursive: true, force: true });
  }
}

let klapPending: Promise<KlapResult[]> | undefined;
const klapInXs = () => (klapPending ??= runKlapInXs());

/** Deterministic test bytes (a linear congruential sequence). */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe("KLAP core in the XS engine", { timeout: TIMEOUT_MS }, () => {
  const expected = klapExpected(klapVectors);

  it("has a test-only JS crypto that agrees with node:crypto (every length up to 3 blocks of a hash, AES both ways)", () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    for (let n = 0; n <= 200; n++) {
      const a = bytes(n, n);
      const b = bytes(n % 17, n + 1000);
      for (const hash of ["md5", "sha1", "sha256"] as const) expect([hash, n, hex(jsCrypto[hash](a, b))]).toEqual([hash, n, hex(nodeCrypto[hash](a, b))]);
      const [key, iv, data] = [bytes(16, 3 * n), bytes(16, 3 * n + 1), bytes(16 * (n % 6), 3 * n + 2)];
      const [mine, node] = [data.slice(), data.slice()];
      jsCrypto.aes128Cbc(true, key, iv, mine);
      nodeCrypto.aes128Cbc(true, key, iv, node);
      expect(["encrypt", n, hex(mine)]).toEqual(["encrypt", n, hex(node)]);
      jsCrypto.aes128Cbc(false, key, iv, mine);
      expect(["decrypt", n, hex(mine)]).toEqual(["decrypt", n, hex(data)]);
    }
  });

  it("Node: the core with node:crypto gives python-kasa's values", () => {
    expect(expected.length).toBeGreaterThan(100);
    expect(klapMismatches(klapResults(nodeCrypto, klapVectors), expected)).toEqual([]);
  });

  if (notBuilt !== undefined) {
    it("has the XS engine: @agoric/xsnap's worker is built", () => {
      throw notBuilt;
    });
    return;
  }

  it("XS: the core gives python-kasa's values byte for byte (auth hashes, handshakes, session keys, sealed and opened bodies, refusals)", async () => {
    expect(klapMismatches(await klapInXs(), expected)).toEqual([]);
  });

  it("XS: the core gives what it gives on Node with node:crypto", async () => {
    expect(await klapInXs()).toEqual(klapResults(nodeCrypto, klapVectors));
  });
});
