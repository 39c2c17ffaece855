// Property-based fuzzing of the request dispatcher on a whole plug (createPlug with the in-memory
// ports of support/fakes.ts): random text, random JSON, request-shaped random objects and mutated
// real requests. Every answer is checked against the envelope rules of PROTOCOL §1.4 and §2.0, its
// size against a bound, and a request with nothing accepted against the plug's whole state.

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ThrottledLog } from "../src/core/limits.js";
import { MAX_AWAY_RULES } from "../src/core/modules/anti_theft.js";
import { MAX_VALUE_BYTES } from "../src/core/storage/settings.js";
import { utf8Decode, utf8Encode, utf8Length } from "../src/core/protocol/wire/utf8.js";
import { testPlug, type TestPlug } from "./support/fakes.js";
import { answerText } from "./support/wire.js";
import { answerProblems, errorCodes, fuzzed, fuzzTimeout, jsonArb, mutatedRequestArb, nameArb, REAL_REQUESTS, requestShapedArb, runs } from "./support/fuzz.js";
import { report } from "./support/report.js";

/**
 * What the getters can answer together, at most (bytes): measured below with full rule tables and
 * the longest names. Each is answered at most once per request (a repeated key is one key).
 */
const KNOWN_RESULTS_MAX = 8 * 1024;
/**
 * Everything else in an answer is a name from the request with an error object or a small success
 * (`{"err_code":0}`, a rule id, a MAC): a name costs the request at least 3 bytes more than its own
 * encoding (`"":0,`), and the answer at most its encoding and 48 bytes for an error of the envelope
 * (`"":{"err_code":-1,"err_msg":"module not support"},` is 50 bytes for 5); the longer messages
 * (Wi-Fi credentials, the presence lock) and the successes need parameters that cost the request more.
 */
const ANSWER_PER_REQUEST_BYTE = 12;

/** Everything reachable from the plug's context (store, device, rules, clock, radio, timers...), in a fixed order. */
function plugState(t: TestPlug): string {
  const ids = new Map<object, number>();
  return JSON.stringify(t.plug.context, (_key, v: unknown) => {
    if (typeof v === "number" && !Number.isFinite(v)) return String(v);
    if (typeof v !== "object" || v === null) return v;
    // the log limiter counts the lines written (a refusal is logged): output, not state a request changed
    if (v instanceof ThrottledLog) return "[log]";
    if (ids.has(v)) return `[#${ids.get(v)}]`;
    ids.set(v, ids.size);
    if (v instanceof Map || v instanceof Set) return [...v];
    if (ArrayBuffer.isView(v)) return Array.from(v as Uint8Array, (n) => (Number.isFinite(n) ? n : String(n)));
    return v;
  });
}

/** The plug's whole state and what its ports were told (relay, LED, restarts). */
function stateOf(t: TestPlug): string {
  return `${plugState(t)} ${JSON.stringify([t.relay, t.led, t.restarts])}`;
}

/** The unlock gesture (a 2-5 s hold): opens the physical-presence lock (when the build has one) for one command that needs it. */
function press(t: TestPlug): void {
  t.unlock();
}

const RULE_NAME = "n".repeat(32);

/** Every rule table full, with the longest names: the largest answers the plug can give. */
async function fill(t: TestPlug): Promise<void> {
  const schedule = { name: RULE_NAME, enable: 1, wday: [1, 1, 1, 1, 1, 1, 1], repeat: 1, stime_opt: 0, smin: 1439, sact: 1, soffset: 0, etime_opt: 0, emin: 1438, eact: 0 };
  const away = { name: RULE_NAME, enable: 1, wday: [1, 1, 1, 1, 1, 1, 1], repeat: 1, stime_opt: 0, smin: 1200, etime_opt: 0, emin: 1439, frequency: 60 };
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await t.ask({ schedule: { add_rule: schedule } })).schedule.add_rule.id);
  for (let i = 0; i < MAX_AWAY_RULES; i++) ids.push((await t.ask({ anti_theft: { add_rule: away } })).anti_theft.add_rule.id);
  ids.push((await t.ask({ count_down: { add_rule: { name: RULE_NAME, enable: 1, delay: 86400, act: 1 } } })).count_down.add_rule.id);
  expect(ids.every((id) => typeof id === "string")).toBe(true);
  await t.ask({ system: { set_dev_alias: { alias: "é".repeat(MAX_VALUE_BYTES >> 1) + "x".repeat(MAX_VALUE_BYTES & 1) } } });
}

/** Every setting at its longest too (the presence lock opened for those behind it). */
async function fillAll(t: TestPlug): Promise<void> {
  press(t);
  await fill(t);
  const long = "x".repeat(MAX_VALUE_BYTES);
  const answer = await t.ask({
    system: { set_dev_icon: { icon: "", hash: long }, set_dev_location: { latitude_i: -899999, longitude_i: -1799999 }, set_led_off: { off: 1 } },
    cnCloud: { set_server_url: { server: long } },
    schedule: { set_overall_enable: { enable: 0 } },
    anti_theft: { set_overall_enable: { enable: 0 } },
  });
  expect(errorCodes(answer).every((code) => code === 0)).toBe(true);
  press(t); // one locked command per opening
  const gains = await t.ask({ emeter: { set_vgain_igain: { vgain: 215392, igain: 16835 } } }); // the largest gains accepted: 16 × and 1 ×, power 16 ×
  expect(errorCodes(gains)).toEqual([0]);
}

const MODELS = ["HS100", "HS105", "HS110", "HS103", "KP115"];

/** The plug a run starts from: a personality, the presence lock open or not, rule tables empty or full. */
const setupArb = fc.record({
  model: fc.constantFrom(...MODELS),
  unlocked: fc.boolean(),
  full: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

async function plugFor(setup: { model: string; unlocked: boolean; full: boolean }): Promise<TestPlug> {
  const t = testPlug({ model: setup.model });
  if (setup.unlocked) press(t);
  if (setup.full) await fill(t);
  return t;
}

interface Tally {
  runs: number;
  requests: number;
  /** Answers with no err_code 0 anywhere: the state was compared. */
  nothingAccepted: number;
  accepted: number;
  notAnObject: number;
  largestRatio: number;
}

const tallies = new Map<string, Tally>();

function tally(name: string): Tally {
  let t = tallies.get(name);
  if (t === undefined) tallies.set(name, (t = { runs: 0, requests: 0, nothingAccepted: 0, accepted: 0, notAnObject: 0, largestRatio: 0 }));
  return t;
}

/**
 * Sends one request text and checks the answer: handle() does not throw (a throw fails the
 * property), answers text that passes answerProblems, logs no failed method, stays within the size
 * bound; and when nothing was accepted, the plug's state is what it was and no after-reply effect
 * (restart, reset, Wi-Fi join) was queued.
 */
async function exchange(t: TestPlug, sent: string, count: Tally): Promise<void> {
  const before = stateOf(t);
  const logged = t.logs.length;
  const effects: (() => void)[] = [];
  const bytes = utf8Encode(sent);
  // the request as the plug reads it: its UTF-8 (a lone surrogate is sent as U+FFFD)
  const text = utf8Decode(bytes);
  const answer = answerText(await t.plug.dispatcher.handle(bytes, { afterReply: (e) => effects.push(e) }));
  // plain checks rather than expect(): this runs some 14,000 times
  const fail = (what: string) => {
    throw new Error(`${what}\nrequest: ${text.slice(0, 400)}\nanswer: ${String(answer).slice(0, 400)}`);
  };
  const problems = answerProblems(text, answer);
  if (problems.length > 0) fail(problems.join("; "));
  const failed = t.logs.slice(logged).filter((line) => line.includes(" failed: "));
  if (failed.length > 0) fail(`a method threw: ${failed.join("; ")}`);
  const size = utf8Length(answer);
  if (size > ANSWER_PER_REQUEST_BYTE * utf8Length(text) + KNOWN_RESULTS_MAX) fail(`answer of ${size} bytes over the bound`);
  count.requests++;
  count.largestRatio = Math.max(count.largestRatio, size / Math.max(1, utf8Length(text)));
  if (answer === "{}") count.notAnObject++;
  const codes = errorCodes(JSON.parse(answer));
  // -7 means a value did not fit the store or a method threw: neither may come from input
  if (codes.includes(-7)) fail("answered -7 unknown error");
  if (codes.includes(0)) {
    count.accepted++;
    return;
  }
  count.nothingAccepted++;
  if (effects.length > 0) fail(`nothing accepted, yet ${effects.length} after-reply effects queued`);
  if (stateOf(t) !== before) expect(stateOf(t), `nothing accepted, yet the state changed\nrequest: ${text}\nanswer: ${answer}`).toBe(before);
}

/**
 * A property over a starting plug and a sequence of steps: a request text, exchanged and checked, or
 * a number of milliseconds for the plug's clock and timers to move on (rules, countdown, flood guard
 * and statistics run then; an exception in any of them fails the property).
 */
function requestsProperty(name: string, stepArb: fc.Arbitrary<string | number>, maxSteps = 4) {
  const count = tally(name);
  return fc.asyncProperty(setupArb, fc.array(stepArb, { minLength: 1, maxLength: maxSteps }), async (setup, steps) => {
    count.runs++;
    const t = await plugFor(setup);
    for (const step of steps) {
      if (typeof step === "string") await exchange(t, step, count);
      else {
        const logged = t.logs.length;
        t.timers.advance(step);
        expect(t.logs.slice(logged).filter((line) => line.includes(" failed: "))).toEqual([]);
      }
    }
  });
}

/** Objects nested `depth` deep under a real method's parameter, as objects or lists. */
const deepArb = fc.record({ depth: fc.integer({ min: 1, max: 3000 }), list: fc.boolean(), at: fc.constantFrom(...REAL_REQUESTS.map((r) => r.request)) }).map(({ depth, list, at }) => {
  const [open, close] = list ? ["[", "]"] : ['{"a":', "}"];
  return JSON.stringify(at).replace(/:(\d+|"[^"]*")/, `:${open.repeat(depth)}$1${close.repeat(depth)}`);
});

/** Changes to a request's text that mostly break its JSON: a cut, an inserted or a deleted character, a duplicated member. */
const textMutatedArb = fc
  .record({ base: mutatedRequestArb(REAL_REQUESTS), op: fc.constantFrom("cut", "insert", "delete", "duplicate"), at: fc.nat(), char: fc.constantFrom(..."{}[]\":,\\ 0a\u0000é") })
  .map(({ base, op, at, char }) => {
    const s = base.text;
    const i = at % (s.length + 1);
    if (op === "cut") return s.slice(0, i);
    if (op === "insert") return s.slice(0, i) + char + s.slice(i);
    if (op === "delete") return s.slice(0, i) + s.slice(i + 1);
    return s.replace(/^\{("[^"]*":\{[^{}]*\})/, "{$1,$1"); // the first module twice: the last one wins
  });

/** Measurements for the report: the largest answer of the known methods, the state sizes of the long run. */
const measured: string[] = [];

afterAll(() => {
  const rows = [...tallies].map(([name, c]) => `  ${name}: ${c.runs} runs, ${c.requests} requests (${c.accepted} with something accepted, ${c.nothingAccepted} with nothing accepted and the state compared, ${c.notAnObject} answered {}), largest answer/request ${c.largestRatio.toFixed(1)}x`);
  report(`dispatcher fuzzing (seed ${fuzzed(1).seed}):\n${rows.join("\n")}\n${measured.map((m) => `  ${m}`).join("\n")}`);
});

describe("dispatcher (fuzzed)", { timeout: fuzzTimeout(40_000) }, () => {
  it("the answer-size bound holds for the largest answers the known methods can give", async () => {
    for (const model of ["HS110", "KP115"]) {
      const t = testPlug({ model });
      await fill(t);
      const getters = {
        system: { get_sysinfo: {}, get_dev_icon: {} },
        netif: { get_stainfo: {}, get_scaninfo: { refresh: 1 } },
        cnCloud: { get_info: {}, get_intl_fw_list: {} },
        time: { get_time: {}, get_timezone: {} },
        schedule: { get_rules: {}, get_next_action: {}, get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 } },
        anti_theft: { get_rules: {} },
        count_down: { get_rules: {} },
        emeter: { get_realtime: {}, get_vgain_igain: {}, get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 } },
      };
      const answer = answerText(await t.plug.dispatcher.handle(utf8Encode(JSON.stringify(getters)), { afterReply() {} }));
      expect(JSON.parse(answer).schedule.get_rules.rule_list).toHaveLength(20);
      expect(utf8Length(answer)).toBeLessThan(KNOWN_RESULTS_MAX);
      measured.push(`${model}: every getter at once with full rule tables answers ${utf8Length(answer)} bytes (bound ${KNOWN_RESULTS_MAX})`);
    }
  });

  it("memory stays bounded: a long run of fuzzed requests on one plug leaves its state no larger than every table and setting full", async () => {
    const full = testPlug({ model: "HS110" });
    await fillAll(full);
    const bound = plugState(full).length;
    const texts = fc.sample(fc.oneof(mutatedRequestArb(REAL_REQUESTS).map((m) => m.text), requestShapedArb), { seed: fuzzed(1).seed, numRuns: runs(1500) });
    const t = testPlug({ model: "HS110", presenceLock: false }); // every locked command open for the whole run
    let largest = 0;
    for (const text of texts) {
      await t.plug.dispatcher.handle(utf8Encode(text), { afterReply() {} });
      largest = Math.max(largest, plugState(t).length);
    }
    measured.push(`one plug, ${texts.length} fuzzed requests: state at most ${largest} characters of JSON (every table and setting full: ${bound}); ${t.store.writes} store writes`);
    expect(largest).toBeLessThanOrEqual(bound);
  });

  it("(a) random bytes as text: answered {} unless they are a JSON object, nothing changes", async () => {
    const text = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => utf8Decode(b)), fc.string({ unit: "binary", maxLength: 100 }));
    await fc.assert(requestsProperty("(a) random bytes as text", text), fuzzed(800));
  });

  it("(b) random JSON values, deep and wide: envelope kept, nothing invalid changes anything", async () => {
    const text = fc.oneof(
      fc.json({ maxDepth: 8 }),
      jsonArb.map((v) => JSON.stringify(v)),
      fc.dictionary(nameArb, jsonArb, { minKeys: 20, maxKeys: 120 }).map((v) => JSON.stringify(v)),
      deepArb,
    );
    await fc.assert(requestsProperty("(b) random JSON", text, 3), fuzzed(600));
  });

  it("(b) request-shaped objects with real and random module, method and parameter names", async () => {
    await fc.assert(requestsProperty("(b) request-shaped", requestShapedArb, 3), fuzzed(1000));
  });

  it("(c) mutated real requests (values replaced, wrong types, keys dropped, renamed, added)", async () => {
    await fc.assert(requestsProperty("(c) mutated requests", mutatedRequestArb(REAL_REQUESTS).map((m) => m.text), 6), fuzzed(2000));
  });

  it("(d) mutated and request-shaped requests with time passing between them (rules, countdown and flood guard run)", async () => {
    const request = fc.oneof(mutatedRequestArb(REAL_REQUESTS).map((m) => m.text), requestShapedArb);
    const wait = fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 5_000, max: 3 * 3600_000 }));
    await fc.assert(requestsProperty("(d) with time passing", fc.oneof({ weight: 2, arbitrary: request }, wait), 8), fuzzed(300));
  });

  it("(c) mutated real requests with broken JSON text", async () => {
    await fc.assert(requestsProperty("(c) broken JSON text", textMutatedArb), fuzzed(600));
  });

  it("the state comparison sees a change: an accepted request is not 'unchanged'", async () => {
    // guards the property above against a snapshot that sees nothing
    const t = testPlug();
    for (const request of [{ system: { set_dev_alias: { alias: "x" } } }, REAL_REQUESTS.find((r) => r.name === "schedule add_rule")!.request]) {
      const before = stateOf(t);
      const answer = await t.ask(request);
      expect(errorCodes(answer)).toContain(0);
      expect(stateOf(t)).not.toBe(before);
    }
  });
});
