#!/usr/bin/env node
// The ESP8266 memory check (docs/MEMORY.md), with the user's own Moddable SDK:
//   npm run sim:memory
// Builds memory/manifest.json (the firmware with the ESP8266's XS creation parameters, an HS110 with
// a simulated CSE7766 on a 1 kW load: the metering boards' case) as a debug simulator app, runs it
// headless on its own fresh preferences, provisions it (netif.set_stainfo), boots it again as a
// provisioned plug (the boot measured), sends python-kasa's combined update, fills every rule table
// (20 schedule rules with sunrise/sunset and end times, 4 away rules, one inside its window, a
// countdown), then sends 1,000 sequential requests on one connection while the rules run, checks
// every answer, and prints the peaks the simulator's XS instrumentation reported once a second.
// Exits non-zero on a wrong answer or an XS abort.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { basename, dirname, join } from "node:path";
import { FrameDecoder } from "../dist/core/wire/frame.js";
import { utf8Decode } from "../dist/core/wire/utf8.js";
import { frame } from "./bench-load.mjs";
import { builtApp, env, fail as stopWith, requireSdk, root, simCommand } from "./sdk.mjs";

const PORT = 9999;
// schedule rules to fill in (npm run sim:memory -- --rules N; default 20, the maximum); away rules: up to 4
const rulesAt = process.argv.indexOf("--rules");
const RULES = rulesAt > 0 ? Math.min(20, Math.max(0, Number(process.argv[rulesAt + 1]) || 0)) : 20;
const AWAY = Math.min(4, RULES);
const SEQUENTIAL = 1000;
const UPDATE = JSON.parse(readFileSync(join(root, "host-tests", "support", "python-kasa-update.json"), "utf8"));

const fail = (message) => stopWith(`memory check: ${message}`, 1);
const sdk = requireSdk();

// ---- build ----
const out = join(root, "build", "mem");
const build = spawnSync("mcconfig", ["-d", "-m", "-p", "lin", "-t", "build", "-o", out], { cwd: join(root, "memory"), stdio: "inherit", env });
if (build.status !== 0) fail(`mcconfig failed (${build.error?.message ?? `exit ${build.status}`})`);
const so = builtApp(join(out, "bin", "lin", "mc", "debug"));
const app = basename(dirname(so));
const makefile = readFileSync(join(out, "tmp", "lin", "mc", "debug", app, "makefile"), "utf8");
const creation = /^CREATION = (.*)$/m.exec(makefile)?.[1] ?? "(not found)";

// ---- run ----
// memory/manifest.json gives the check its own Preference file (config.file.root): removed here, so
// every run starts from the same state, whatever `npm run sim` left in the default one
rmSync("/tmp/kasa-memory-check-modpreferences.json", { force: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stop = () => spawnSync("pkill", ["-f", so]);
let console_ = "";
let simEnded;

function startSimulator() {
  console_ = "";
  const sim = spawn(...simCommand(sdk, so, true), { env, stdio: ["ignore", "pipe", "pipe"] });
  sim.stdout.on("data", (d) => (console_ += d));
  sim.stderr.on("data", (d) => (console_ += d));
  simEnded = new Promise((r) => sim.on("exit", r));
}

async function until(test, ms, what) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (test()) return;
  stop();
  fail(`${what}; the simulator printed:\n${console_.slice(-2000)}`);
}

let socket;
const decoder = new FrameDecoder(1 << 20);
const answers = [];
async function open() {
  socket = connect(PORT, "127.0.0.1");
  await new Promise((r, j) => (socket.once("connect", r), socket.once("error", j)));
  socket.on("data", (chunk) => decoder.feed(chunk, (p) => answers.push(utf8Decode(p))));
  socket.on("error", () => {});
}

// first boot: unprovisioned; set_stainfo gives it a network (the simulator's Wi-Fi joins any), then
// it stops, as a plug is unplugged after its setup
startSimulator();
await until(() => / ready, relay /.test(console_), 30000, "the plug did not boot");
await open();
const joined = await ask({ netif: { set_stainfo: { ssid: "MemoryCheckNet", password: "memory check passphrase", key_type: 3 } } });
if (joined?.netif?.set_stainfo?.err_code !== 0) {
  stop();
  fail(`set_stainfo refused: ${JSON.stringify(joined)}`);
}
await until(() => /Wi-Fi: address/.test(console_), 30000, "the plug did not join the network");
await sleep(1500); // the settings written on joining
socket.destroy();
stop();
await Promise.race([simEnded, sleep(3000)]);
const firstBoot = console_;

// the measured boot: provisioned, it rejoins its saved network
startSimulator();
await until(() => / ready, relay /.test(console_), 30000, "the plug did not boot");
await until(() => /Wi-Fi: address/.test(console_), 30000, "the plug did not rejoin its saved network");
await sleep(2500); // lets the sample that holds the boot be printed, so later samples hold requests only
const bootedAt = console_.length;
await open();

async function ask(request) {
  socket.write(frame(request));
  await until(() => answers.length > 0 || /XS abort/.test(console_), 5000, `no answer to ${JSON.stringify(request).slice(0, 80)}`);
  if (answers.length === 0) return undefined;
  return JSON.parse(answers.shift());
}

const expectOk = (answer, module, method) => answer?.[module]?.[method]?.err_code === 0;
function checkUpdate(a) {
  return (
    a !== undefined && expectOk(a, "system", "get_sysinfo") && expectOk(a, "time", "get_time") && expectOk(a, "schedule", "get_rules") &&
    expectOk(a, "cnCloud", "get_info") && a["smartlife.iot.homekit"]?.err_code === -1 &&
    // an HS110 with a (simulated) CSE7766 on a 1 kW load: the metering ESP8266 boards' case
    expectOk(a, "emeter", "get_realtime") && expectOk(a, "emeter", "get_daystat") && expectOk(a, "emeter", "get_monthstat")
  );
}

const update = await ask(UPDATE);
const ruleLog = () => (console_.match(/^(schedule: |away mode|countdown ended)/gm) ?? []).length;
if (!checkUpdate(update)) {
  stop();
  fail(`wrong answer to the combined update: ${JSON.stringify(update)?.slice(0, 300)}`);
}
const updateBytes = Buffer.byteLength(JSON.stringify(update));

// ---- every rule table full, the longest names, rules due while the requests run ----
const now = (await ask({ time: { get_time: {} } }))?.time?.get_time;
if (now === undefined) {
  stop();
  fail("no answer to get_time");
}
const minute = now.hour * 60 + now.min;
const name = "ü".repeat(16); // 32 bytes
const everyDay = [1, 1, 1, 1, 1, 1, 1];
// the simulator's Preference file outlives a run: start from empty tables
const setup = [
  { schedule: { delete_all_rules: {} } },
  { anti_theft: { delete_all_rules: {} } },
  { count_down: { delete_all_rules: {} } },
  { system: { set_dev_location: { latitude: 51.5, longitude: -0.125 } } },
];
for (let i = 0; i < RULES; i++) {
  const stime_opt = i % 3; // fixed, sunrise, sunset
  const smin = (minute + 1 + (i % 5)) % 1440; // fixed rules fall due during the run
  setup.push({ schedule: { add_rule: { name, enable: 1, wday: everyDay, repeat: 1, stime_opt, smin, soffset: i - 10, sact: i % 2, etime_opt: 0, emin: (smin + 2) % 1440, eact: 1 - (i % 2) } } });
}
for (let i = 0; i < AWAY; i++) {
  const smin = i === 0 ? (minute + 1439) % 1440 : (minute + 60 * i) % 1440; // the first window is open now
  setup.push({ anti_theft: { add_rule: { name, enable: 1, wday: everyDay, repeat: 1, stime_opt: 0, smin, etime_opt: 0, emin: (smin + 30) % 1440, frequency: 60 } } });
}
setup.push({ count_down: { add_rule: { name, enable: 1, delay: 5, act: 1 } } });
for (const request of setup) {
  const [module] = Object.keys(request);
  const [method] = Object.keys(request[module]);
  const answer = await ask(request);
  if (!expectOk(answer, module, method)) {
    stop();
    fail(`rule setup refused: ${JSON.stringify(answer)?.slice(0, 200)}`);
  }
}

await sleep(2500); // the samples that hold the setup (25 settings writes: the simulator's Preference rewrites its JSON file each time)
const setupAt = console_.length;

const cycle = [
  [UPDATE, checkUpdate],
  [{ schedule: { get_rules: {}, get_next_action: {}, get_daystat: { year: now.year, month: now.month } }, count_down: { get_rules: {} }, anti_theft: { get_rules: {} } },
    (a) => a?.schedule?.get_rules?.rule_list?.length === RULES && expectOk(a, "schedule", "get_next_action") && expectOk(a, "count_down", "get_rules") &&
      a?.anti_theft?.get_rules?.rule_list?.length === AWAY],
  [{ system: { set_relay_state: { state: 1 } } }, (a) => expectOk(a, "system", "set_relay_state")],
  [{ system: { get_sysinfo: {} } }, (a) => expectOk(a, "system", "get_sysinfo")],
  [{ system: { set_relay_state: { state: 0 } } }, (a) => expectOk(a, "system", "set_relay_state")],
  [{ system: { set_dev_alias: { alias: "Küche 🔌" } } }, (a) => expectOk(a, "system", "set_dev_alias")],
  [{ time: { get_time: {}, get_timezone: {} } }, (a) => expectOk(a, "time", "get_time") && expectOk(a, "time", "get_timezone")],
  [{ netif: { get_stainfo: {} } }, (a) => expectOk(a, "netif", "get_stainfo")],
];
let good = 0;
for (let i = 0; i < SEQUENTIAL; i++) {
  const [request, check] = cycle[i % cycle.length];
  await sleep(150); // spread over a few minutes, so that rules fall due between requests
  const answer = await ask(request);
  if (answer === undefined) break;
  if (check(answer)) good++;
  else console.error(`wrong answer ${i}: ${JSON.stringify(answer).slice(0, 200)}`);
}
socket.destroy();
await sleep(2500); // the last instrument samples (printed once a second)
stop();
await Promise.race([simEnded, sleep(3000)]);

// ---- report ----
const keyLine = /^instruments key: (.*)$/m.exec(console_)?.[1]?.split(",") ?? [];
const samples = [...console_.matchAll(/^instruments: (.*)$/gm)].map((m) => m[1].split(",").map(Number));
const column = (name) => keyLine.indexOf(name);
const peak = (name, from = 0) => Math.max(0, ...samples.slice(from).map((s) => s[column(name)] ?? 0));
const bootSamples = [...console_.slice(0, bootedAt).matchAll(/^instruments: /gm)].length;
const setupSamples = [...console_.slice(0, setupAt).matchAll(/^instruments: /gm)].length;
const sum = (name) => samples.reduce((n, s) => n + (s[column(name)] ?? 0), 0);
const project = join(out, "tmp", "lin", "mc", "debug", app, "modules");
let xsb = 0;
let modules = 0;
for (const dir of ["core", "moddable", "ports", "plug-io.xsb", "main.xsb"]) {
  const walk = (p) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else if (p.endsWith(".xsb")) (xsb += statSync(p).size), modules++;
  };
  walk(join(project, dir));
}
const archive = statSync(join(out, "tmp", "lin", "mc", "debug", app, "mc.xs.c.o")).size;

const aborted = /XS abort[^\n]*/.exec(console_)?.[0];
const firstSamples = [...firstBoot.matchAll(/^instruments: (.*)$/gm)].map((m) => m[1].split(",").map(Number));
const firstStack = Math.max(0, ...firstSamples.map((s) => s[column("Stack used")] ?? 0)) / 32;
console.log(`
creation (from the generated makefile): ${creation}  (chunk initial,incremental, heap initial,incremental slots, stack slots, keys…, parser…, static bytes)
combined update answer: ${updateBytes} bytes
rules: ${RULES} schedule, ${AWAY} away, 1 countdown; rule actions logged during the run: ${ruleLog()}
sequential requests answered correctly: ${good} of ${SEQUENTIAL}
XS peaks over the whole run (64-bit simulator: a slot is 32 bytes here, 16 on the ESP8266):
  chunk used  ${peak("Chunk used")} bytes; while serving requests with the rules running ${peak("Chunk used", setupSamples)} bytes
  slot used   ${peak("Slot used")} bytes (${peak("Slot used") / 32} slots); while serving ${peak("Slot used", setupSamples) / 32} slots
  stack at the first boot (fresh settings, setup network, provisioning): ${firstStack} slots
  stack used  ${peak("Stack used")} bytes (${peak("Stack used") / 32} of ${peak("Stack available") / 32} slots); serving requests ${peak("Stack used", bootSamples)} bytes (${peak("Stack used", bootSamples) / 32} slots)
  garbage collections ${sum("Garbage collections")}, keys used ${peak("Keys used")}
compiled project modules: ${modules} modules, ${xsb} bytes of XS byte code (debug build); linked archive mc.xs.c.o ${archive} bytes
${aborted ? `FAILED: ${aborted}` : "no XS abort"}`);
if (aborted || good !== SEQUENTIAL) process.exit(1);

