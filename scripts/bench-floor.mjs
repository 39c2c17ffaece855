#!/usr/bin/env node
// The floor under the benchmark's 16-client rows (docs/BENCHMARKS.md): a bare Node TCP server that
// answers every request frame with one canned frame (the host plug's own get_sysinfo answer, taken
// once at the start), no parsing and no JSON, measured with the bench's load generator at 16 clients,
// persistent and connection-per-request, 3 runs each. Whatever a Node plug does costs at least this.
//   npm run build && node scripts/bench-floor.mjs

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { frame, oneShot, requests, runScenario } from "./bench-load.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

if (process.argv[2] === "--serve") {
  const answer = Buffer.from(process.argv[4], "base64");
  createServer({ noDelay: true, allowHalfOpen: true }, (s) => {
    let buf = Buffer.alloc(0);
    s.on("data", (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        buf = buf.subarray(4 + buf.readUInt32BE(0));
        s.write(answer);
      }
    });
    s.on("end", () => s.end());
    s.on("error", () => {});
  }).listen(Number(process.argv[3]), "127.0.0.1", () => console.log("ready"));
} else {
  const request = requests(root).get_sysinfo;
  const state = mkdtempSync(join(tmpdir(), "bench-floor-"));
  const plug = spawn(process.execPath, [join(root, "dist/host/main.js"), "--port", "18801", "--model", "HS110", "--state-dir", state, "--http-port", "0"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 1500));
  const answer = await oneShot(18801, "127.0.0.1", request.bytes);
  plug.kill();
  rmSync(state, { recursive: true, force: true });
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), "--serve", "18802", Buffer.from(frame(answer)).toString("base64")], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((r) => server.stdout.once("data", r));
  for (const mode of ["persistent", "per-request"]) {
    for (let k = 0; k < 3; k++) {
      const r = await runScenario({ mode, port: 18802, request, clients: 16, warmupMs: 1000, durationMs: 5000, serverPid: server.pid });
      const us = (r.serverCpu / r.rps) * 1e6;
      console.log(`${mode} get_sysinfo x16, bare Node server: ${Math.round(r.rps)} req/s, ${r.errors} errors, server CPU ${Math.round(r.serverCpu * 100)}% (${us.toFixed(1)} us a request), generator CPU ${Math.round(r.generatorCpu * 100)}%`);
    }
  }
  server.kill();
}
