#!/usr/bin/env node
// The benchmark (docs/BENCHMARKS.md; not part of npm test):
//   npm run bench                      the table: host plug vs tplink-smarthome-simulator
//   npm run bench -- --quick           the same, short (0.3 s warm-up, 1 s per scenario)
//   npm run bench -- --soak 600        10 minutes of mixed load, churn and malformed frames on the host plug
// Options: --duration S (5), --warmup S (1), --clients 1,4,16, --json FILE (raw results),
//          --repeat N (runs per scenario and target, the median shown; 1), --quiet-wait S (before
//          each run, wait up to S s for the rest of the machine to go quiet; 60), --soak-rate N
//          (soak's target requests per second, 700)
//
// The host plug (node dist/host/main.js, HS110 personality, a fresh provisioned state directory) and
// the simulator (scripts/bench-simulator.mjs, model 'hs110') each run in their own process on free
// loopback ports; the load generator (scripts/bench-load.mjs) runs here, the same code for both.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { createSocket } from "node:dgram";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { frame, machineJiffies, oneShot, PersistentClient, requests, rss, runScenario, validators } from "./bench-load.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean" },
    duration: { type: "string" },
    warmup: { type: "string" },
    clients: { type: "string" },
    soak: { type: "string" },
    "soak-rate": { type: "string" },
    json: { type: "string" },
    repeat: { type: "string" },
    "quiet-wait": { type: "string" },
    help: { type: "boolean" },
  },
  strict: true,
});
if (opts.help) {
  // the comment at the top of this file
  const text = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n");
  console.log(text.slice(1, text.findIndex((l) => l === "")).map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
  process.exit(0);
}
const durationMs = 1000 * Number(opts.duration ?? (opts.quick ? 1 : 5));
const warmupMs = 1000 * Number(opts.warmup ?? (opts.quick ? 0.3 : 1));
const repeat = Number(opts.repeat ?? 1);
if (!Number.isInteger(repeat) || repeat < 1) fail("--repeat: a whole number of runs per scenario and target");
const quietWaitMs = 1000 * Number(opts["quiet-wait"] ?? (opts.quick ? 5 : 60));
const clientCounts = (opts.clients ?? "1,4,16").split(",").map(Number);
if (clientCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) fail("--clients: whole numbers 1-16 (the plug accepts 32 connections)");
if (!(durationMs > 0) || !(warmupMs >= 0)) fail("--duration and --warmup are seconds");

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// servers

/** A port free for both TCP and UDP on 127.0.0.1 (the plug and the simulator bind both). */
async function freePort() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = createServer();
    await new Promise((r) => tcp.listen(0, HOST, r));
    const port = tcp.address().port;
    const udp = createSocket("udp4");
    const ok = await new Promise((r) => {
      udp.once("error", () => r(false));
      udp.bind(port, HOST, () => r(true));
    });
    await new Promise((r) => tcp.close(r));
    if (ok) {
      await new Promise((r) => udp.close(r));
      return port;
    }
    udp.close();
  }
  throw new Error("no free port");
}

class Child {
  out = "";
  lines = [];
  exited = null;

  constructor(name, args) {
    this.name = name;
    this.proc = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    this.pid = this.proc.pid;
    const take = (d) => {
      this.out += d;
      const parts = this.out.split("\n");
      this.out = parts.pop();
      this.lines.push(...parts);
    };
    this.proc.stdout.setEncoding("utf8").on("data", take);
    this.proc.stderr.setEncoding("utf8").on("data", take);
    this.exitedP = new Promise((r) => this.proc.on("exit", (code, signal) => r((this.exited = { code, signal }))));
  }

  async waitFor(re, ms) {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
      if (this.lines.some((l) => re.test(l))) return;
      if (this.exited) break;
    }
    throw new Error(`${this.name}: no ${re} within ${ms} ms; it printed:\n${this.lines.slice(-20).join("\n")}`);
  }

  async stop() {
    if (this.exited) return;
    this.proc.kill("SIGTERM");
    await Promise.race([this.exitedP, sleep(3000)]);
    if (!this.exited) this.proc.kill("SIGKILL");
  }
}

async function startPlug() {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), "kasa-bench-"));
  const plug = new Child("host plug", ["dist/host/main.js", "--port", String(port), "--model", "HS110", "--state-dir", stateDir, "--http-port", "0"]);
  plug.port = port;
  plug.stateDir = stateDir;
  await plug.waitFor(/listening on TCP and UDP/, 15000);
  // Provision it, as a plug in use is: python-kasa's `wifi join` to the virtual radio's home network.
  const answer = JSON.parse(await oneShot(port, HOST, frame({ netif: { set_stainfo: { ssid: "HomeNetwork", password: "correct horse battery", key_type: 3 } } })));
  if (answer?.netif?.set_stainfo?.err_code !== 0) throw new Error(`set_stainfo answered ${JSON.stringify(answer)}`);
  await plug.waitFor(/Wi-Fi joined/, 15000);
  await sleep(500);
  plug.loadFrom = plug.lines.length; // what it prints from here on is the bench's doing
  return plug;
}

async function startSimulator() {
  const port = await freePort();
  const sim = new Child("simulator", ["scripts/bench-simulator.mjs", "--port", String(port), "--model", "hs110"]);
  sim.port = port;
  await sim.waitFor(/^READY /, 15000);
  return sim;
}

function stopAll(children) {
  return Promise.all(children.map((c) => c?.stop()));
}

// ---------------------------------------------------------------------------------------------
// machine

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  return {
    nproc: cpus().length,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    node: process.version,
    date: new Date().toISOString(),
    loadavg: loadavg().map((n) => n.toFixed(2)).join(" "),
    code: codeVersion(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
  };
}

/** The commit measured, and whether src/ had changes not yet committed (they are what was built). */
function codeVersion() {
  const git = (...args) => spawnSync("git", args, { cwd: root, encoding: "utf8" }).stdout?.trim() ?? "";
  const commit = git("rev-parse", "--short", "HEAD") || "unknown";
  const dirty = git("status", "--porcelain", "--", "src");
  return dirty ? `${commit} with uncommitted changes in src/ (${dirty.split("\n").length} files)` : commit;
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "-");
const ms = (n) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : "-");

// ---------------------------------------------------------------------------------------------
// the table

/**
 * Other work on the machine skews a run. Before each one, wait (up to --quiet-wait seconds) for a
 * second in which everything else together used under a quarter of one CPU; returns that share
 * (in CPUs) of the last second looked at, so a run that had to start anyway can be told apart.
 */
async function quiet() {
  const n = cpus().length;
  let others = NaN;
  for (const end = Date.now() + quietWaitMs; ; ) {
    const a = machineJiffies();
    await sleep(1000);
    const b = machineJiffies();
    others = ((b.busy - a.busy) / (b.total - a.total)) * n;
    if (others < 0.25 || Date.now() >= end) return others;
  }
}

async function table() {
  const m = machine();
  console.error(`bench: ${m.command}; ${m.nproc} CPUs (${m.cpu}), node ${m.node}, load ${m.loadavg}`);
  let plug = null;
  let sim = null;
  try {
    plug = await startPlug();
    sim = await startSimulator();
    const reqs = requests(root);
    const targets = [
      { key: "ours", name: "host plug", child: plug },
      { key: "sim", name: "simulator", child: sim },
    ];
    // What each answers (checked once before measuring).
    const sizes = {};
    for (const t of targets) {
      for (const [kind, r] of Object.entries(reqs)) {
        const text = await oneShot(t.child.port, HOST, r.bytes);
        r.validate(text);
        sizes[`${t.key}.${kind}`] = Buffer.byteLength(text);
      }
    }
    const rows = [];
    for (const mode of ["per-request", "persistent"]) {
      for (const kind of ["get_sysinfo", "update"]) {
        for (const clients of clientCounts) {
          const row = { mode, kind, clients };
          const runs = { ours: [], sim: [] };
          for (let i = 0; i < repeat; i++) {
            // alternate which target goes first, so that drift in the machine's load hits both alike
            for (const t of i % 2 === 0 ? targets : [...targets].reverse()) {
              const before = await quiet();
              const r = await runScenario({ mode, port: t.child.port, request: reqs[kind], clients, warmupMs, durationMs, serverPid: t.child.pid });
              r.othersBefore = before;
              // CPUs used by everything but the server and the generator (other processes, kernel softirq) during the run
              r.others = r.machineBusy * cpus().length - r.serverCpu - r.generatorCpu;
              runs[t.key].push(r);
              console.error(
                `  ${mode} ${kind} x${clients} ${t.name}: ${fmt(r.rps)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, ` +
                  `${r.errors} errors${r.errors ? ` ${JSON.stringify(r.reasons)}` : ""}, ${r.reconnects} reconnects, ${r.retries} retries, ` +
                  `server CPU ${fmt(100 * r.serverCpu)}%, generator CPU ${fmt(100 * r.generatorCpu)}%, machine busy ${fmt(100 * r.machineBusy)}%, ` +
                  `rest of the machine ${fmt(100 * r.others)}% (${fmt(100 * before)}% just before)`,
              );
              if (t.child.exited) throw new Error(`${t.name} exited: ${JSON.stringify(t.child.exited)}\n${t.child.lines.slice(-20).join("\n")}`);
            }
          }
          // the run with the median rate stands for the scenario; errors are summed over all runs
          for (const t of targets) {
            const sorted = [...runs[t.key]].sort((a, b) => a.rps - b.rps);
            row[t.key] = { ...sorted[(sorted.length - 1) >> 1], errors: sorted.reduce((n, r) => n + r.errors, 0), runs: runs[t.key] };
          }
          row.ratio = row.ours.rps / row.sim.rps;
          rows.push(row);
        }
      }
    }
    const memory = { ours: rss(plug.pid), sim: rss(sim.pid) };
    const plugLog = summarizePlugLog(plug.lines.slice(plug.loadFrom));
    const simErrors = sim.lines.filter((l) => l.startsWith("simulator error:"));
    print(m, rows, sizes, memory, plugLog, simErrors);
    if (opts.json) writeFileSync(opts.json, JSON.stringify({ machine: m, warmupMs, durationMs, sizes, rows, memory, plugLog, simErrors }, null, 2));
  } finally {
    await stopAll([plug, sim]);
    if (plug) rmSync(plug.stateDir, { recursive: true, force: true });
  }
}

function summarizePlugLog(lines) {
  const counts = {};
  for (const l of lines) {
    const text = l.replace(/^\[plug [^\]]*\] /, "").replace(/\d+/g, "N");
    counts[text] = (counts[text] ?? 0) + 1;
  }
  return counts;
}

function print(m, rows, sizes, memory, plugLog, simErrors) {
  const out = [];
  out.push(`Command: \`${m.command}\``);
  out.push(`Machine: ${m.nproc} CPUs, ${m.cpu}, Node ${m.node}, load average at start ${m.loadavg}; ${m.date}; code ${m.code}`);
  out.push(`Each scenario: ${warmupMs / 1000} s warm-up, then ${durationMs / 1000} s measured; closed loop (each client sends its next request when the last one finished)` +
    (repeat > 1 ? `; ${repeat} runs per scenario and target, alternating which goes first; the run with the median req/s is shown (its p50 and p99), errors are summed over all runs.` : "."));
  out.push(`Answer sizes (bytes of JSON): get_sysinfo ${sizes["ours.get_sysinfo"]} (host plug) / ${sizes["sim.get_sysinfo"]} (simulator); combined update ${sizes["ours.update"]} / ${sizes["sim.update"]}.`);
  out.push("");
  out.push("| connection | request | clients | host plug req/s | p50 ms | p99 ms | errors | simulator req/s | p50 ms | p99 ms | errors | ratio |");
  out.push("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    const kind = r.kind === "update" ? "combined update" : "get_sysinfo";
    out.push(
      `| ${r.mode} | ${kind} | ${r.clients} | ${fmt(r.ours.rps)} | ${ms(r.ours.p50)} | ${ms(r.ours.p99)} | ${r.ours.errors} | ` +
        `${fmt(r.sim.rps)} | ${ms(r.sim.p50)} | ${ms(r.sim.p99)} | ${r.sim.errors} | ${r.ratio.toFixed(2)}x |`,
    );
  }
  out.push("");
  out.push("CPU is in % of one CPU over the measured window of the run shown; \"rest\" is what everything else used meanwhile (other processes, kernel softirq): the machine's busy time minus the server's and the generator's.");
  out.push("");
  out.push("| connection | request | clients | host plug CPU | simulator CPU | generator CPU (host plug run / simulator run) | rest (host plug run / simulator run) | reconnects (host plug / simulator) | retries (host plug / simulator) |");
  out.push("|---|---|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    const kind = r.kind === "update" ? "combined update" : "get_sysinfo";
    out.push(
      `| ${r.mode} | ${kind} | ${r.clients} | ${fmt(100 * r.ours.serverCpu)}% | ${fmt(100 * r.sim.serverCpu)}% | ` +
        `${fmt(100 * r.ours.generatorCpu)}% / ${fmt(100 * r.sim.generatorCpu)}% | ${fmt(100 * r.ours.others)}% / ${fmt(100 * r.sim.others)}% | ` +
        `${r.mode === "persistent" ? `${fmt(r.ours.reconnects)} / ${fmt(r.sim.reconnects)}` : "n/a"} | ${r.mode === "persistent" ? `${r.ours.retries} / ${r.sim.retries}` : "n/a"} |`,
    );
  }
  out.push("");
  const per = rows.filter((r) => r.mode === "per-request");
  const pers = rows.filter((r) => r.mode === "persistent");
  const errors = rows.reduce((n, r) => n + r.ours.errors, 0);
  const min = (rs) => Math.min(...rs.map((r) => r.ratio));
  out.push(`Targets: connection-per-request ≥ 2x: ${per.every((r) => r.ratio >= 2) ? "met" : "NOT met"} (lowest ${min(per).toFixed(2)}x); ` +
    `persistent ≥ 5x: ${pers.every((r) => r.ratio >= 5) ? "met" : "NOT met"} (lowest ${min(pers).toFixed(2)}x); ` +
    `host plug errors: ${errors}${errors ? " (NOT met)" : " (met)"}.`);
  out.push(`RSS after the run: host plug ${fmt(memory.ours.rss)} KiB (peak ${fmt(memory.ours.hwm)}), simulator ${fmt(memory.sim.rss)} KiB (peak ${fmt(memory.sim.hwm)}).`);
  out.push(`Host plug log during the run (digits as N): ${JSON.stringify(plugLog)}`);
  out.push(`Simulator errors printed: ${simErrors.length}${simErrors.length ? ` (first: ${simErrors[0]})` : ""}`);
  console.log(out.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// the soak

async function soak(seconds) {
  const m = machine();
  const rate = Number(opts["soak-rate"] ?? 700);
  console.error(`bench: soak ${seconds} s at about ${rate} req/s; ${m.nproc} CPUs (${m.cpu}), node ${m.node}, load ${m.loadavg}`);
  let plug = null;
  try {
    plug = await startPlug();
    const port = plug.port;
    const reqs = requests(root);
    await sleep(2000);
    const samples = [{ t: 0, ...rss(plug.pid) }];
    const began = performance.now();
    const endAt = began + seconds * 1000;
    const running = () => performance.now() < endAt && !plug.exited;
    const counts = new Map();
    const count = (key, n = 1) => counts.set(key, (counts.get(key) ?? 0) + n);
    const errorReasons = new Map();
    const error = (what, e) => {
      count(`${what}: error`);
      const why = `${what}: ${e?.message ?? e}`;
      errorReasons.set(why, (errorReasons.get(why) ?? 0) + 1);
    };
    const pick = () => (Math.random() < 0.7 ? "get_sysinfo" : "update");
    const paced = async (intervalMs, body) => {
      while (running()) {
        const t = performance.now();
        await body();
        const wait = intervalMs - (performance.now() - t);
        if (wait > 0) await sleep(wait);
      }
    };

    const sampler = setInterval(() => samples.push({ t: Math.round((performance.now() - began) / 1000), ...rss(plug.pid) }), 10000);

    // 4 persistent clients (python-kasa style), each reconnecting after 20-200 requests; a quarter of
    // the churn is an abrupt reset, and some requests are abandoned (sent, then the socket reset).
    const persistentRate = (rate * 6) / 7;
    const persistent = Array.from({ length: 4 }, async () => {
      let c = new PersistentClient(port, HOST);
      let left = 20 + Math.floor(Math.random() * 180);
      await paced(4000 / persistentRate, async () => {
        if (left-- <= 0) {
          const r = Math.random();
          if (r < 0.25) {
            c.socket?.resetAndDestroy();
            c.socket = null;
            count("persistent: churn by reset");
          } else if (r < 0.4 && c.usable) {
            c.socket.write(reqs.update.bytes);
            c.socket.resetAndDestroy();
            c.socket = null;
            count("persistent: request abandoned (sent, then reset)");
          } else {
            c.close();
            count("persistent: churn by close");
          }
          c = new PersistentClient(port, HOST);
          left = 20 + Math.floor(Math.random() * 180);
        }
        const kind = pick();
        try {
          reqs[kind].validate(await c.request(reqs[kind].bytes));
          count(`persistent ${kind}: ok`);
        } catch (e) {
          error(`persistent ${kind}`, e);
          c.drop();
        }
      });
      c.close();
    });

    // 2 connection-per-request clients (tplink-smarthome-api style).
    const perRequest = Array.from({ length: 2 }, () =>
      paced(2000 / (rate - persistentRate), async () => {
        const kind = pick();
        try {
          reqs[kind].validate(await oneShot(port, HOST, reqs[kind].bytes));
          count(`per-request ${kind}: ok`);
        } catch (e) {
          error(`per-request ${kind}`, e);
        }
      }),
    );

    // The relay, toggled every 2.5 s (under any relay flood guard), then read back.
    const relay = (async () => {
      const c = new PersistentClient(port, HOST);
      let state = 1;
      await paced(2500, async () => {
        try {
          validators.set_relay_state(await c.request(frame({ system: { set_relay_state: { state } } })));
          const si = validators.get_sysinfo(await c.request(reqs.get_sysinfo.bytes)).system.get_sysinfo;
          if (si.relay_state !== state) throw new Error(`relay_state ${si.relay_state} after set ${state}`);
          count("set_relay_state: ok (and read back)");
          state ^= 1;
        } catch (e) {
          error("set_relay_state", e);
          c.drop();
        }
      });
      c.close();
    })();

    // Malformed frames on throwaway connections: one at a time, ten a second.
    const closeTimes = new Map();
    const malformedKinds = [
      ["garbage (64 random bytes)", () => randomBytes(64), "close"],
      ["oversize header (16,385 declared)", () => Buffer.concat([Buffer.from([0, 0, 0x40, 0x01]), randomBytes(100)]), "close"],
      ["oversize header (4 GiB declared)", () => Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), randomBytes(100)]), "close"],
      ["invalid JSON (cut text)", () => frame('{"system":{"get_sysinfo":'), "answer"],
      ["invalid JSON (not JSON)", () => frame("not json at all"), "answer"],
      ["invalid JSON (an array)", () => frame("[1,2,3]"), "answer"],
      ["invalid JSON (random ciphertext)", () => { const b = randomBytes(54); b.writeUInt32BE(50, 0); return b; }, "answer"],
    ];
    let next = 0;
    const malformed = paced(100, async () => {
      const [name, make, expect] = malformedKinds[next++ % malformedKinds.length];
      const outcome = await throwaway(port, make(), expect === "answer" ? reqs.get_sysinfo.bytes : null, 2000);
      count(`malformed ${name}: ${outcome.what}`);
    });
    // Truncated frames, then silence: one at a time; each waits up to 8 s for the plug to close it.
    const truncatedKinds = [
      ["truncated body (half a get_sysinfo, then silence)", () => Buffer.from(reqs.get_sysinfo.bytes).subarray(0, 4 + 14)],
      ["truncated header (2 of 4 bytes, then silence)", () => Buffer.from([0, 0])],
    ];
    let nextTruncated = 0;
    const truncated = (async () => {
      while (running()) {
        const [name, make] = truncatedKinds[nextTruncated++ % truncatedKinds.length];
        const outcome = await throwaway(port, make(), null, 8000);
        count(`malformed ${name}: ${outcome.what}`);
        if (outcome.closedAfterMs !== undefined) {
          const list = closeTimes.get(name) ?? [];
          list.push(outcome.closedAfterMs);
          closeTimes.set(name, list);
        }
      }
    })();

    let last = 0;
    const progress = setInterval(() => {
      const s = samples.at(-1);
      const done = [...counts].filter(([k]) => k.endsWith(": ok") || k.includes("ok (")).reduce((n, [, v]) => n + v, 0);
      console.error(`  t=${Math.round((performance.now() - began) / 1000)} s: ${done - last} requests ok in the last minute, RSS ${s.rss} KiB, errors ${[...counts].filter(([k]) => k.endsWith("error")).reduce((n, [, v]) => n + v, 0)}`);
      last = done;
    }, 60000);

    await Promise.all([...persistent, ...perRequest, relay, malformed, truncated]);
    clearInterval(sampler);
    clearInterval(progress);
    const loadEnd = rss(plug.pid);
    samples.push({ t: Math.round((performance.now() - began) / 1000), ...loadEnd });
    if (plug.exited) throw new Error(`the plug exited during the soak: ${JSON.stringify(plug.exited)}\n${plug.lines.slice(-20).join("\n")}`);

    // A clean client at the end: a correct get_sysinfo on a new persistent and a new per-request connection.
    await sleep(5000);
    const idle = rss(plug.pid);
    let finalCheck;
    try {
      const c = new PersistentClient(port, HOST);
      validators.get_sysinfo(await c.request(reqs.get_sysinfo.bytes));
      validators.update(await c.request(reqs.update.bytes));
      c.close();
      validators.get_sysinfo(await oneShot(port, HOST, reqs.get_sysinfo.bytes));
      finalCheck = "passed (get_sysinfo and the combined update on a new persistent connection, get_sysinfo on a new per-request one)";
    } catch (e) {
      finalCheck = `FAILED: ${e?.message ?? e}`;
    }
    printSoak(m, seconds, rate, samples, idle, counts, errorReasons, closeTimes, summarizePlugLog(plug.lines.slice(plug.loadFrom)), finalCheck);
    if (opts.json) {
      writeFileSync(opts.json, JSON.stringify({ machine: m, seconds, rate, samples, idle, counts: Object.fromEntries(counts), errors: Object.fromEntries(errorReasons), closeTimes: Object.fromEntries(closeTimes), plugLog: summarizePlugLog(plug.lines.slice(plug.loadFrom)), finalCheck }, null, 2));
    }
  } finally {
    await stopAll([plug]);
    if (plug) rmSync(plug.stateDir, { recursive: true, force: true });
  }
}

/**
 * A throwaway connection that sends `bytes`, then waits (up to `waitMs`) for what the plug does.
 * With `then` (for frames the plug must answer and survive), the valid request is sent after the
 * first answer and must be answered correctly too.
 */
function throwaway(port, bytes, then, waitMs) {
  return new Promise((resolve) => {
    const s = connect({ port, host: HOST, noDelay: true });
    const t0 = performance.now();
    let received = Buffer.alloc(0);
    let answers = [];
    let result = null;
    const finish = (what, extra = {}) => {
      if (result) return;
      result = { what, ...extra };
      clearTimeout(timer);
      s.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(answers.length ? `answered ${JSON.stringify(answers[0]).slice(0, 40)}, then silence` : `still open after ${waitMs / 1000} s (not closed by the plug)`), waitMs);
    s.once("connect", () => s.write(bytes));
    s.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 4 && received.length >= 4 + received.readUInt32BE(0)) {
        const n = received.readUInt32BE(0);
        const body = received.subarray(4, 4 + n);
        received = received.subarray(4 + n);
        let k = 171;
        const plain = Buffer.alloc(n);
        for (let i = 0; i < n; i++) {
          plain[i] = body[i] ^ k;
          k = body[i];
        }
        answers.push(plain.toString("utf8"));
        if (answers.length === 1 && then) s.write(then);
        else if (answers.length === 2) {
          try {
            validators.get_sysinfo(answers[1]);
            finish(`answered ${answers[0]}, then a correct get_sysinfo on the same connection`);
          } catch (e) {
            finish(`answered ${answers[0]}, then a WRONG get_sysinfo: ${e.message}`);
          }
        } else if (!then) finish(`answered ${answers[0].slice(0, 40)}`);
      }
    });
    s.on("error", () => {});
    s.on("end", () => finish(answers.length ? `answered ${answers[0].slice(0, 40)}, then closed by the plug` : "closed by the plug, no answer", { closedAfterMs: performance.now() - t0 }));
    s.on("close", () => finish(answers.length ? `answered, then closed` : "closed by the plug, no answer", { closedAfterMs: performance.now() - t0 }));
  });
}

function printSoak(m, seconds, rate, samples, idle, counts, errorReasons, closeTimes, plugLog, finalCheck) {
  const out = [];
  const first = samples[0];
  const underLoad = samples.filter((s) => s.t > 0);
  const end = samples.at(-1);
  const max = samples.reduce((a, s) => (s.rss > a.rss ? s : a), first);
  out.push(`Command: \`${m.command}\``);
  out.push(`Machine: ${m.nproc} CPUs, ${m.cpu}, Node ${m.node}, load average at start ${m.loadavg}; ${m.date}; code ${m.code}`);
  out.push(`Soak: ${seconds} s against the host plug, target about ${rate} req/s.`);
  out.push("");
  out.push(`Host plug RSS (VmRSS, KiB): before the load ${first.rss}; first sample under load (t=${underLoad[0]?.t} s) ${underLoad[0]?.rss}; ` +
    `end of the load (t=${end.t} s) ${end.rss}; max ${max.rss} (t=${max.t} s); 5 s after the load ${idle.rss}; VmHWM ${idle.hwm}.`);
  out.push(`RSS every 60 s (t s: KiB): ${samples.filter((s, i) => i === 0 || s.t % 60 === 0 || i === samples.length - 1).map((s) => `${s.t}: ${s.rss}`).join(", ")}`);
  out.push("");
  out.push("| what | count |");
  out.push("|---|--:|");
  for (const [k, v] of [...counts].sort()) out.push(`| ${k.replace(/\|/g, "\\|")} | ${fmt(v)} |`);
  out.push("");
  for (const [name, list] of closeTimes) {
    const sorted = [...list].sort((a, b) => a - b);
    out.push(`Time for the plug to close "${name}": min ${(sorted[0] / 1000).toFixed(2)} s, median ${(sorted[sorted.length >> 1] / 1000).toFixed(2)} s, max ${(sorted.at(-1) / 1000).toFixed(2)} s (${sorted.length} closed).`);
  }
  out.push(`Errors: ${errorReasons.size ? JSON.stringify(Object.fromEntries(errorReasons)) : "none"}`);
  out.push(`Host plug log during the soak (digits as N): ${JSON.stringify(plugLog)}`);
  out.push(`Final check: ${finalCheck}`);
  console.log(out.join("\n"));
}

// ---------------------------------------------------------------------------------------------

try {
  if (opts.soak !== undefined) {
    const seconds = Number(opts.soak);
    if (!(seconds > 0)) fail("--soak takes seconds");
    await soak(seconds);
  } else {
    await table();
  }
} catch (e) {
  console.error(`bench: ${e?.stack ?? e}`);
  process.exit(1);
}
