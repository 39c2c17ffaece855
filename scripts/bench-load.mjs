// The benchmark's load generator: the same code drives the host plug and tplink-smarthome-simulator.
//
// Two client styles (PROTOCOL §1.5):
// - PersistentClient, python-kasa's XorTransport: one TCP connection per client, TCP_NODELAY, one
//   request at a time, answers read by their 4-byte header. When the server has closed the connection
//   (real plugs of some firmware close after every answer; tplink-smarthome-simulator 5.0.1 means to
//   for its hs* models but does not, see docs/BENCHMARKS.md) the next request reconnects first; a
//   request that meets EOF before any answer on a connection that had already answered is sent once
//   more on a new connection (python-kasa retries EOF at once). Both are counted, apart from errors.
// - oneShot, tplink-smarthome-api's TcpConnection: a new connection per request; connect, write one
//   frame, read the whole answer, end() the socket, and finish only on its 'close' event.
//
// Every answer is decrypted, decoded as strict UTF-8, parsed and checked (`validators`), so that an
// error counted here is a real one.

import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { FrameDecoder } from "../dist/core/protocol/wire/frame.js";

/** Answers may be large (python-kasa sizes for 16 KiB); this is only a guard against nonsense. */
const ANSWER_LIMIT = 1 << 20;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A request as one frame, as clients encode it: 4-byte big-endian length, UTF-8 body in autokey XOR from 171. */
export function frame(obj) {
  const body = new TextEncoder().encode(typeof obj === "string" ? obj : JSON.stringify(obj));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  let key = 171;
  for (let i = 0; i < body.length; i++) out[4 + i] = key ^= body[i];
  return out;
}

class BenchError extends Error {
  constructor(reason, eof = false) {
    super(reason);
    this.eof = eof;
  }
}

// ---------------------------------------------------------------------------------------------
// answer checks

function methodOk(answer, module, method) {
  const r = answer?.[module]?.[method];
  if (r?.err_code !== 0) throw new BenchError(`${module}.${method}: err_code ${JSON.stringify(r?.err_code)}`);
  return r;
}

function sysinfoOk(answer) {
  const si = methodOk(answer, "system", "get_sysinfo");
  if (typeof si.relay_state !== "number" || typeof si.mac !== "string" || typeof si.model !== "string") {
    throw new BenchError("get_sysinfo: relay_state, mac or model missing");
  }
  return si;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    throw new BenchError("answer is not JSON");
  }
}

/** Each returns the parsed answer or throws. */
export const validators = {
  get_sysinfo(text) {
    const a = parse(text);
    sysinfoOk(a);
    return a;
  },
  // python-kasa's combined update (PROTOCOL §2.10) on an HS110: every module it asks must answer; the
  // methods a real plug supports must answer err_code 0, the others (homekit, schedule.get_realtime,
  // anti_theft.get_next_action) must carry a numeric err_code.
  update(text) {
    const a = parse(text);
    sysinfoOk(a);
    for (const [m, f] of [
      ["emeter", "get_realtime"], ["emeter", "get_daystat"], ["emeter", "get_monthstat"],
      ["schedule", "get_rules"], ["schedule", "get_next_action"], ["schedule", "get_daystat"], ["schedule", "get_monthstat"],
      ["anti_theft", "get_rules"], ["time", "get_time"], ["time", "get_timezone"], ["cnCloud", "get_info"],
    ]) methodOk(a, m, f);
    if (typeof a["smartlife.iot.homekit"]?.err_code !== "number") throw new BenchError("smartlife.iot.homekit: no err_code");
    if (typeof a.schedule?.get_realtime?.err_code !== "number") throw new BenchError("schedule.get_realtime: no err_code");
    if (typeof a.anti_theft?.get_next_action?.err_code !== "number") throw new BenchError("anti_theft.get_next_action: no err_code");
    return a;
  },
  set_relay_state(text) {
    const a = parse(text);
    methodOk(a, "system", "set_relay_state");
    return a;
  },
};

export function requests(root) {
  const update = JSON.parse(readFileSync(`${root}/host-tests/support/python-kasa-update.json`, "utf8"));
  return {
    get_sysinfo: { bytes: frame({ system: { get_sysinfo: {} } }), validate: validators.get_sysinfo },
    update: { bytes: frame(update), validate: validators.update },
  };
}

// ---------------------------------------------------------------------------------------------
// clients

export class PersistentClient {
  socket = null;
  decoder = null;
  pending = null;
  serverEnded = false;
  answered = 0; // answers on the current connection
  connects = 0;
  stray = 0; // answers nobody asked for

  constructor(port, host, { timeoutMs = 5000, onReconnect = () => {}, onRetry = () => {} } = {}) {
    this.port = port;
    this.host = host;
    this.timeoutMs = timeoutMs;
    this.onReconnect = onReconnect;
    this.onRetry = onRetry;
  }

  get usable() {
    return this.socket !== null && !this.socket.destroyed && !this.serverEnded;
  }

  open() {
    return new Promise((resolve, reject) => {
      const s = connect({ port: this.port, host: this.host, noDelay: true });
      const decoder = new FrameDecoder(ANSWER_LIMIT);
      this.socket = s;
      this.decoder = decoder;
      this.serverEnded = false;
      this.answered = 0;
      let connected = false;
      const timer = setTimeout(() => {
        s.destroy();
        reject(new BenchError("connect timeout"));
      }, this.timeoutMs);
      s.once("connect", () => {
        connected = true;
        clearTimeout(timer);
        if (this.connects++ > 0) this.onReconnect();
        resolve();
      });
      s.on("data", (chunk) => {
        if (this.socket !== s) return;
        if (!decoder.feed(chunk, (plain) => this.answer(plain))) {
          s.destroy();
          this.fail(new BenchError("answer larger than 1 MiB"));
        }
      });
      const gone = (reason) => {
        if (this.socket !== s) return;
        this.serverEnded = true;
        this.fail(new BenchError(reason, true));
      };
      s.on("end", () => gone("EOF before the answer"));
      s.on("close", () => gone("connection closed before the answer"));
      s.on("error", (e) => {
        if (!connected) {
          clearTimeout(timer);
          reject(new BenchError(`connect: ${e.code ?? e.message}`));
        } else if (this.socket === s) {
          this.serverEnded = true;
          this.fail(new BenchError(`socket: ${e.code ?? e.message}`, e.code === "ECONNRESET" || e.code === "EPIPE"));
        }
      });
    });
  }

  answer(plain) {
    const p = this.pending;
    if (p === null) {
      this.stray++;
      return;
    }
    this.pending = null;
    clearTimeout(p.timer);
    this.answered++;
    try {
      p.resolve(utf8.decode(plain));
    } catch {
      p.reject(new BenchError("answer is not UTF-8"));
    }
  }

  fail(error) {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    clearTimeout(p.timer);
    p.reject(error);
  }

  send(bytes) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new BenchError("timeout"));
        this.drop();
      }, this.timeoutMs);
      this.pending = { resolve, reject, timer };
      this.socket.write(bytes);
    });
  }

  /** One request, answered; throws a BenchError otherwise. */
  async request(bytes) {
    if (!this.usable) {
      this.drop();
      await this.open();
    }
    const reused = this.answered > 0;
    try {
      return await this.send(bytes);
    } catch (e) {
      if (!(e instanceof BenchError) || !e.eof || !reused) throw e;
      // The server closed a connection that had served before (python-kasa: retry at once).
      this.onRetry();
      this.drop();
      await this.open();
      return await this.send(bytes);
    }
  }

  /** Forgets the current connection (an error or a timeout: the state of the stream is unknown). */
  drop() {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }

  /** Closes as a client does when it is done: FIN, then let go. */
  close() {
    const s = this.socket;
    this.socket = null;
    if (s !== null && !s.destroyed) s.end(() => s.destroy());
  }
}

/** tplink-smarthome-api's TcpConnection: connect, one frame, the whole answer, end(), resolve on 'close'. */
export function oneShot(port, host, bytes, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host });
    const decoder = new FrameDecoder(ANSWER_LIMIT);
    let text = null;
    let error = null;
    const timer = setTimeout(() => {
      error ??= new BenchError("timeout");
      s.destroy();
    }, timeoutMs);
    s.once("connect", () => s.write(bytes));
    s.on("data", (chunk) => {
      const ok = decoder.feed(chunk, (plain) => {
        if (text !== null) return;
        try {
          text = utf8.decode(plain);
        } catch {
          error ??= new BenchError("answer is not UTF-8");
        }
        s.end();
      });
      if (!ok) {
        error ??= new BenchError("answer larger than 1 MiB");
        s.destroy();
      }
    });
    s.on("error", (e) => (error ??= new BenchError(`socket: ${e.code ?? e.message}`)));
    s.on("close", () => {
      clearTimeout(timer);
      if (error !== null) reject(error);
      else if (text === null) reject(new BenchError("closed without an answer"));
      else resolve(text);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// measurement

export function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** utime + stime of a process, in seconds (Linux /proc). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15; USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine (all CPUs), from /proc/stat. */
export function machineJiffies() {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = f[3] + (f[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** VmRSS and VmHWM of a process, in KiB. */
export function rss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return {
      rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]),
      hwm: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]),
    };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Closed loop: `clients` clients, each sending its next request as soon as the last one finished.
 * Counts what completes (or fails) between warm-up end and warm-up + duration.
 */
export async function runScenario({ mode, port, host = "127.0.0.1", request, clients, warmupMs, durationMs, serverPid }) {
  const start = performance.now();
  const t0 = start + warmupMs;
  const t1 = t0 + durationMs;
  const inWindow = (t) => t >= t0 && t <= t1;
  const latencies = [];
  const reasons = new Map();
  let errors = 0;
  let reconnects = 0;
  let retries = 0;
  let stray = 0;
  let stop = false;
  let cpu0 = null;
  let cpu1 = null;
  const mark = () => ({ server: cpuSeconds(serverPid), self: process.cpuUsage(), machine: machineJiffies() });
  const markers = [
    setTimeout(() => (cpu0 = mark()), warmupMs),
    setTimeout(() => {
      cpu1 = mark();
      stop = true;
    }, warmupMs + durationMs),
  ];

  async function client() {
    const persistent =
      mode === "persistent"
        ? new PersistentClient(port, host, {
            onReconnect: () => inWindow(performance.now()) && reconnects++,
            onRetry: () => inWindow(performance.now()) && retries++,
          })
        : null;
    while (!stop) {
      const began = performance.now();
      try {
        const text = persistent ? await persistent.request(request.bytes) : await oneShot(port, host, request.bytes);
        request.validate(text);
        const ended = performance.now();
        if (inWindow(ended)) latencies.push(ended - began);
      } catch (e) {
        const ended = performance.now();
        if (inWindow(ended)) {
          errors++;
          const why = e instanceof BenchError ? e.message : `unexpected: ${e?.message ?? e}`;
          reasons.set(why, (reasons.get(why) ?? 0) + 1);
        }
        persistent?.drop();
        await sleep(5); // no hot loop against a server that refuses
      }
    }
    if (persistent) {
      stray += persistent.stray;
      persistent.close();
    }
  }

  await Promise.all(Array.from({ length: clients }, client));
  markers.forEach(clearTimeout);
  const sorted = Float64Array.from(latencies).sort();
  const seconds = durationMs / 1000;
  const selfCpu = cpu0 && cpu1 ? (cpu1.self.user - cpu0.self.user + cpu1.self.system - cpu0.self.system) / 1e6 : NaN;
  return {
    ok: sorted.length,
    rps: sorted.length / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    errors,
    reasons: Object.fromEntries(reasons),
    reconnects,
    retries,
    stray,
    serverCpu: cpu0 && cpu1 ? (cpu1.server - cpu0.server) / seconds : NaN,
    generatorCpu: selfCpu / seconds,
    // share of all CPUs busy (any process, kernel included) during the window: 1 = every CPU saturated
    machineBusy: cpu0 && cpu1 ? (cpu1.machine.busy - cpu0.machine.busy) / (cpu1.machine.total - cpu0.machine.total) : NaN,
  };
}
