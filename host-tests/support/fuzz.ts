// What the fuzz tests share: the seed and run scaling, real requests to mutate, the mutations
// themselves (as data, so that fast-check can generate and shrink them and the socket run can draw
// them from a seeded pool), and the check every answer must pass. docs/FUZZING.md says how they are used.

import { readFileSync } from "node:fs";
import fc from "fast-check";

/** FUZZ_SEED=n picks another seed for every property and the socket run (the default is fixed). */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20240915);
/** FUZZ_RUNS=k multiplies every property's runs and the socket run's frame count (default 1). */
const SCALE = Math.max(0.01, Number(process.env.FUZZ_RUNS ?? 1));

/** A property's number of runs, scaled by FUZZ_RUNS. */
export function runs(n: number): number {
  return Math.max(1, Math.round(n * SCALE));
}

/** A test's time limit: vitest's 20 s, stretched in proportion when FUZZ_RUNS asks for more runs. */
export function fuzzTimeout(ms = 20_000): number {
  return Math.max(ms, Math.round(ms * SCALE));
}

/** A TCP frame's 4-byte big-endian length field (PROTOCOL §1.2). */
export const lengthHeader = (length: number) => Uint8Array.of(length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);

export const concat = (parts: readonly Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

/** Cuts `stream` at the given points (taken modulo its length + 1, sorted, repeats allowed: empty chunks). */
export function split(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = cuts.map((c) => c % (stream.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(stream.slice(from, p));
    from = p;
  }
  chunks.push(stream.slice(from));
  return chunks;
}

/** fc.assert's parameters: the shared seed and a number of runs. */
export function fuzzed(numRuns: number): { seed: number; numRuns: number } {
  return { seed: FUZZ_SEED, numRuns: runs(numRuns) };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** python-kasa's combined update for a plug (PROTOCOL §2.10). */
export const PYTHON_KASA_UPDATE: Json = JSON.parse(readFileSync(new URL("./python-kasa-update.json", import.meta.url), "utf8"));

const SCHEDULE_RULE = { name: "morning", enable: 1, wday: [0, 1, 1, 1, 1, 1, 0], repeat: 1, stime_opt: 0, smin: 420, sact: 1, etime_opt: -1, emin: 0, eact: -1, year: 0, month: 0, day: 0 };
const AWAY_RULE = { enable: 1, wday: [1, 0, 0, 0, 0, 0, 0], repeat: 1, stime_opt: 0, smin: 457, etime_opt: 0, emin: 504, frequency: 5 };
const LOCAL_TIME = { year: 2024, month: 6, mday: 1, hour: 12, min: 0, sec: 0 };
const RULE_ID = "0123456789ABCDEF0123456789ABCDEF";

/**
 * Requests real clients send (python-kasa, tplink-smarthome-api, the Kasa app), each valid as it
 * stands. `socket: false` marks the ones the socket run leaves out: they restart the plug, or
 * switch the relay or set the time (see fuzz-socket.test.ts).
 */
export const REAL_REQUESTS: readonly { name: string; request: Json; socket: boolean }[] = [
  { name: "python-kasa update", request: PYTHON_KASA_UPDATE, socket: true },
  { name: "discovery", request: { system: { get_sysinfo: null } }, socket: true },
  { name: "set_relay_state", request: { system: { set_relay_state: { state: 1 } } }, socket: false },
  { name: "set_led_off", request: { system: { set_led_off: { off: 1 } } }, socket: true },
  { name: "set_dev_alias", request: { system: { set_dev_alias: { alias: "Küche 🔌" } } }, socket: true },
  { name: "set_dev_location", request: { system: { set_dev_location: { latitude_i: 525200, longitude_i: 134050 } } }, socket: true },
  { name: "set_dev_location floats", request: { system: { set_dev_location: { latitude: 48.8566, longitude: 2.3522 } } }, socket: true },
  { name: "set_mac_addr", request: { system: { set_mac_addr: { mac: "50-C7-BF-01-02-03" } } }, socket: true },
  { name: "set_device_id", request: { system: { set_device_id: { deviceId: "8006C48C147555A338B8B7A193230669D06CC534" } } }, socket: true },
  { name: "set_hw_id", request: { system: { set_hw_id: { hwId: "0A081EF502ECDF9D63C57B682EF86600" } } }, socket: true },
  { name: "set_dev_icon", request: { system: { set_dev_icon: { icon: "iVBORw0KGgo=", hash: "ABCDEF" } } }, socket: true },
  { name: "reboot", request: { system: { reboot: { delay: 1 } } }, socket: false },
  { name: "reset", request: { system: { reset: { delay: 1 } } }, socket: false },
  { name: "set_stainfo", request: { netif: { set_stainfo: { ssid: "HomeNetwork", password: "correct horse", key_type: 3 } } }, socket: true },
  { name: "get_scaninfo", request: { netif: { get_scaninfo: { refresh: 1 } } }, socket: false },
  { name: "set_timezone", request: { time: { set_timezone: { index: 42, ...LOCAL_TIME } } }, socket: false },
  { name: "set_time", request: { time: { set_time: LOCAL_TIME } }, socket: false },
  { name: "schedule add_rule", request: { schedule: { add_rule: SCHEDULE_RULE } }, socket: true },
  { name: "schedule edit_rule", request: { schedule: { edit_rule: { ...SCHEDULE_RULE, id: RULE_ID } } }, socket: true },
  { name: "schedule delete_rule", request: { schedule: { delete_rule: { id: RULE_ID }, delete_all_rules: {} } }, socket: true },
  { name: "schedule stats", request: { schedule: { get_daystat: { year: 2024, month: 1 }, get_monthstat: { year: 2024 }, set_overall_enable: { enable: true } } }, socket: true },
  { name: "anti_theft add_rule", request: { anti_theft: { add_rule: AWAY_RULE } }, socket: true },
  { name: "count_down add_rule", request: { count_down: { add_rule: { enable: 1, delay: 1800, act: 1, name: "turn on" } } }, socket: true },
  { name: "cnCloud", request: { cnCloud: { set_server_url: { server: "devs.tplinkcloud.com" }, bind: { username: "a@b.c", password: "pw" } } }, socket: true },
  { name: "emeter", request: { emeter: { set_vgain_igain: { vgain: 13462, igain: 16835 }, get_daystat: { year: 2024, month: 1 } } }, socket: true },
  { name: "context", request: { context: { source: "46a5c7b0-1f7c" }, system: { get_sysinfo: {} } }, socket: true },
];

/** The plug's modules and their methods (PROTOCOL §2.1-§2.8). */
export const METHODS: { readonly [module: string]: readonly string[] } = {
  system: ["get_sysinfo", "set_relay_state", "set_led_off", "set_dev_alias", "set_dev_location", "set_mac_addr", "set_device_id", "set_hw_id", "get_dev_icon", "set_dev_icon", "reboot", "reset"],
  netif: ["get_scaninfo", "get_stainfo", "set_stainfo"],
  cnCloud: ["get_info", "bind", "unbind", "get_intl_fw_list", "set_server_url"],
  time: ["get_time", "get_timezone", "set_timezone", "set_time"],
  schedule: ["get_rules", "add_rule", "edit_rule", "delete_rule", "delete_all_rules", "set_overall_enable", "get_next_action", "get_daystat", "get_monthstat", "erase_runtime_stat"],
  count_down: ["get_rules", "add_rule", "edit_rule", "delete_rule", "delete_all_rules"],
  anti_theft: ["get_rules", "add_rule", "edit_rule", "delete_rule", "delete_all_rules", "set_overall_enable"],
  emeter: ["get_realtime", "get_daystat", "get_monthstat", "erase_emeter_stat", "get_vgain_igain", "set_vgain_igain"],
};

/** The methods' parameter names. */
export const PARAMETERS: readonly string[] = [
  "state", "off", "alias", "latitude", "longitude", "latitude_i", "longitude_i", "mac", "deviceId", "hwId", "icon", "hash", "delay",
  "refresh", "ssid", "password", "key_type", "username", "server", "index", "year", "month", "mday", "hour", "min", "sec", "id", "name",
  "enable", "wday", "repeat", "stime_opt", "smin", "soffset", "sact", "etime_opt", "emin", "eact", "day", "frequency", "act", "vgain", "igain",
];

/** Names a mutation may give a key: the protocol's own (modules, methods, parameters) and awkward ones. */
export const NAMES: readonly string[] = [
  ...new Set([...Object.keys(METHODS), "context", "smartlife.iot.common.emeter", ...Object.values(METHODS).flat(), ...PARAMETERS]),
  "__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "", "*", "err_code", "err_msg", "0", "length",
];

/** Values at the edges of what the methods accept. */
const EDGE_VALUES: readonly Json[] = [
  0, 1, -1, 2, true, false, null, "", "1", "true", [], {}, 0.5, -0.5, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1439, 1440,
  59, 60, 23, 24, 31, 32, 12, 13, 2000, 1999, 2099, 2100, 3600, 3601, 86400, 86401, 109, 110, 63, 64,
  // strings at the rule-name bound (32 bytes), a setting's (60 bytes with the store's check, 63 without) and beyond
  ...[32, 33, 60, 61, 63, 64].map((n) => "x".repeat(n)), "é".repeat(16), "é".repeat(30), "é".repeat(31), "🔌".repeat(16), "\ud800", "\u0000", "12345678", "0".repeat(64), RULE_ID, RULE_ID.toLowerCase(),
  [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0], [true, false, true, false, true, false, true], [1, 1, 1, 1, 1, 1], [2, 1, 1, 1, 1, 1, 1],
];

/** Names a mutation may use. */
export const nameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...NAMES).chain((n) => fc.mixedCase(fc.constant(n))) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
);

/** Any JSON value, shallow or deep; object keys partly from the protocol's names. */
export const jsonArb: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(...EDGE_VALUES),
    fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
    fc.array(tie("value"), { maxLength: 6 }),
    fc.dictionary(nameArb, tie("value"), { maxKeys: 6 }) as fc.Arbitrary<Json>,
  ),
})).value;

/** A name from `names` mostly, else any name. */
const oneOf = (names: readonly string[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...names) }, nameArb);

/** Objects shaped like requests: real modules with their own methods mostly, parameters with real names and random values. */
export const requestShapedArb = fc
  .array(
    fc.constantFrom(...Object.keys(METHODS)).chain((module) =>
      fc.tuple(
        oneOf([module]),
        fc.oneof(
          { weight: 4, arbitrary: fc.dictionary(oneOf(METHODS[module]), fc.oneof({ weight: 3, arbitrary: fc.dictionary(oneOf(PARAMETERS), jsonArb, { maxKeys: 8 }) }, jsonArb), { maxKeys: 4 }) },
          jsonArb,
        ),
      ),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((modules) => JSON.stringify(Object.fromEntries(modules)));

/** A change to a request, positioned by `at` (an index into the places where it applies, modulo their number). */
export type Mutation =
  | { op: "replace"; at: number; value: Json }
  | { op: "retype"; at: number; how: number }
  | { op: "drop"; at: number }
  | { op: "rename"; at: number; name: string }
  | { op: "insert"; at: number; name: string; value: Json };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("replace" as const), at: fc.nat(), value: jsonArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("retype" as const), at: fc.nat(), how: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("drop" as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("rename" as const), at: fc.nat(), name: nameArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("insert" as const), at: fc.nat(), name: nameArb, value: jsonArb }) },
);

type Container = Json[] | { [key: string]: Json };

function isContainer(v: unknown): v is Container {
  return typeof v === "object" && v !== null;
}

/**
 * Sets a copy of `value` as an own property, even for "__proto__" (plain assignment would set the
 * prototype instead). A copy: the generated value is not to be changed by later mutations (fast-check
 * reuses it while shrinking), nor to appear twice in one request.
 */
function put(o: Container, key: string | number, value: Json): void {
  Object.defineProperty(o, key, { value: JSON.parse(JSON.stringify(value)), enumerable: true, writable: true, configurable: true });
}

/** Every member of every object and array below the root, in document order, and every object (the root included). */
function places(root: Json): { members: [Container, string | number][]; objects: { [key: string]: Json }[] } {
  const members: [Container, string | number][] = [];
  const objects: { [key: string]: Json }[] = [];
  const walk = (v: Json) => {
    if (!isContainer(v)) return;
    if (!Array.isArray(v)) objects.push(v);
    const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    for (const k of keys) {
      members.push([v, k]);
      walk((v as { [k: string]: Json })[k]);
    }
  };
  walk(root);
  return { members, objects };
}

/** The same value as another JSON type (a number as a string, an object as a list...). */
function retyped(v: Json, how: number): Json {
  const pick = (options: Json[]) => options[how % options.length];
  if (typeof v === "number") return pick([String(v), v === 0 ? false : true, [v], { value: v }, v + 0.5, -v, v * 1e6, null]);
  if (typeof v === "string") return pick([Number(v.length), v === "" ? 0 : v.length > 0, [v], { [v]: v }, null, v.toUpperCase(), v + v]);
  if (typeof v === "boolean") return pick([v ? 1 : 0, String(v), [v], null]);
  if (v === null) return pick([{}, [], 0, "", "null"]);
  if (Array.isArray(v)) return pick([Object.fromEntries(v.map((x, i) => [String(i), x])), v.length, v.slice(1), [...v, v[0] ?? 0], null]);
  return pick([Object.values(v), Object.keys(v).length, JSON.stringify(v), null, []]);
}

/** `base` with the mutations applied in turn (each positioned on the result of the previous one). */
export function mutate(base: Json, mutations: readonly Mutation[]): Json {
  let root = JSON.parse(JSON.stringify(base)) as Json;
  for (const m of mutations) {
    const { members, objects } = places(root);
    if (m.op === "insert") {
      if (objects.length > 0) put(objects[m.at % objects.length], m.name, m.value);
      continue;
    }
    if (members.length === 0) continue;
    const [parent, key] = members[m.at % members.length];
    const value = (parent as { [k: string]: Json })[key];
    if (m.op === "replace") put(parent, key, m.value);
    else if (m.op === "retype") put(parent, key, retyped(value, m.how));
    else if (Array.isArray(parent)) parent.splice(key as number, 1); // drop or rename in a list: drop
    else {
      delete parent[key as string];
      if (m.op === "rename") put(parent, m.name, value);
    }
  }
  return root;
}

/** A real request mutated one to four times, as JSON text. */
export function mutatedRequestArb(requests: readonly { name: string; request: Json }[]): fc.Arbitrary<{ base: string; text: string }> {
  return fc
    .record({ base: fc.constantFrom(...requests), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) })
    .map(({ base, mutations }) => ({ base: base.name, text: JSON.stringify(mutate(base.request, mutations)) }));
}

export function isObject(v: unknown): v is { [key: string]: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasNumericCode(v: unknown): v is { err_code: number; err_msg?: unknown } {
  return isObject(v) && typeof v.err_code === "number";
}

/** The answer refuses the request as a whole (the server's bound on nesting and members): a top-level err_code. */
export function refusedWhole(answer: { [key: string]: unknown }): answer is { err_code: number; err_msg?: unknown } {
  return hasNumericCode(answer);
}

/** Every err_code in an answer: module-level errors and method results. */
export function errorCodes(answer: { [key: string]: unknown }): number[] {
  if (refusedWhole(answer)) return [answer.err_code];
  const codes: number[] = [];
  for (const module of Object.values(answer)) {
    if (hasNumericCode(module)) codes.push(module.err_code);
    else if (isObject(module)) for (const result of Object.values(module)) if (hasNumericCode(result)) codes.push(result.err_code);
  }
  return codes;
}

function errorProblems(where: string, e: { err_code: number; err_msg?: unknown }, exact: boolean): string[] {
  const out: string[] = [];
  if (!Number.isInteger(e.err_code) || e.err_code > 0) out.push(`${where}: err_code ${e.err_code} is not 0 or a negative integer`);
  if (e.err_code !== 0 && typeof e.err_msg !== "string") out.push(`${where}: err_code ${e.err_code} without err_msg`);
  if (exact && Object.keys(e).join() !== "err_code,err_msg") out.push(`${where}: an error object with other members`);
  return out;
}

/**
 * What is wrong with `answerText` as the answer to `requestText` (PROTOCOL §1.4): it must be a JSON
 * object; text that is not a JSON object is answered `{}`; an object request is answered module by
 * module and method by method in request order (a leading `context` consumed), each module either
 * one error object or its methods' results, each result an object with a numeric err_code. A request
 * refused whole for its size or nesting is answered with one top-level error object.
 */
export function answerProblems(requestText: string, answerText: string): string[] {
  let answer: unknown;
  try {
    answer = JSON.parse(answerText);
  } catch {
    return [`answer is not JSON: ${answerText.slice(0, 80)}`];
  }
  if (!isObject(answer)) return [`answer is not an object: ${answerText.slice(0, 80)}`];
  if (refusedWhole(answer)) return errorProblems("whole request", answer, true);
  let request: unknown;
  try {
    request = JSON.parse(requestText);
  } catch {
    request = undefined;
  }
  if (!isObject(request)) return Object.keys(answer).length === 0 ? [] : [`a request that is not an object answered ${answerText.slice(0, 80)}`];
  const problems: string[] = [];
  const modules = Object.keys(request).filter((name, i) => !(i === 0 && name === "context"));
  if (Object.keys(answer).join("\u0000") !== modules.join("\u0000")) problems.push(`modules answered ${JSON.stringify(Object.keys(answer))}, asked ${JSON.stringify(modules)}`);
  for (const name of modules) {
    const module = answer[name];
    const calls = request[name];
    if (hasNumericCode(module)) problems.push(...errorProblems(`module ${JSON.stringify(name)}`, module, true));
    else if (!isObject(module) || !isObject(calls)) problems.push(`module ${JSON.stringify(name)}: neither an error nor method results`);
    else {
      const methods = Object.keys(calls);
      if (Object.keys(module).join("\u0000") !== methods.join("\u0000")) problems.push(`${JSON.stringify(name)}: methods answered ${JSON.stringify(Object.keys(module))}, asked ${JSON.stringify(methods)}`);
      for (const method of methods) {
        const result = module[method];
        if (!hasNumericCode(result)) problems.push(`${name}.${method}: no numeric err_code`);
        else problems.push(...errorProblems(`${name}.${method}`, result, result.err_code !== 0));
      }
    }
  }
  return problems;
}
