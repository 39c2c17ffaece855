#!/usr/bin/env node
// The Moddable crypto port's self-test in the Linux simulator (not part of npm test: CI has no SDK):
//   node scripts/crypto-selftest.mjs
// Builds a small app (scripts/crypto-selftest/selftest.ts with src/moddable/crypto.ts, the KLAP core
// and the SDK's crypt natives, $(MODULES)/crypt/digest) for the simulator into build/crypto-selftest,
// runs it headless (xvfb-run), prints what it printed and exits 0 when it says "pass". Needs MODDABLE,
// $MODDABLE/build/bin/lin/release on PATH and xvfb (docs/DEVELOPING.md, "The Moddable SDK").

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtApp, env, fail, requireSdk, root, simCommand } from "./sdk.mjs";

const sdk = requireSdk();
const out = join(root, "build", "crypto-selftest");
mkdirSync(out, { recursive: true });

// The modules are named after their paths in the project, so that their relative imports resolve.
const vectors = readFileSync(join(root, "host-tests", "support", "klap-vectors.json"), "utf8");
writeFileSync(join(out, "main.js"), `import selftest from "scripts/crypto-selftest/selftest";\nselftest(${vectors.trim()});\n`);
// the project's sources the app is made of, each a module named after its path
const sources = [
  "scripts/crypto-selftest/selftest.ts",
  "host-tests/xs/klap-check.ts",
  "src/moddable/crypto.ts",
  "src/core/klap/klap.ts",
  "src/core/protocol/wire/utf8.ts",
];
const name = (file) => file.slice(0, -3);
const manifest = {
  include: ["$(MODDABLE)/examples/manifest_base.json", "$(MODDABLE)/examples/manifest_typings.json", "$(MODULES)/crypt/digest/manifest.json"],
  modules: { "*": join(out, "main"), ...Object.fromEntries(sources.map((file) => [name(file), join(root, name(file))])) },
  preload: sources.slice(2).map(name),
};
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1));

console.log("building the self-test for the simulator (mcconfig -m -p lin) ...");
const built = spawnSync("mcconfig", ["-m", "-p", "lin", "-t", "build", "-o", out, join(out, "manifest.json")], { cwd: out, env, encoding: "utf8" });
if (built.error || built.status !== 0) fail(`mcconfig failed (${built.error?.message ?? `exit ${built.status}`}):\n${`${built.stdout}${built.stderr}`.slice(-3000)}`, 1);

const so = builtApp(join(out, "bin", "lin", "mc", "release"));
const [cmd, args] = simCommand(sdk, so, true);
const child = spawn(cmd, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
let text = "";
let verdict;
const done = new Promise((resolve) => {
  const seen = (chunk) => {
    text += chunk;
    const m = /crypto self-test: (pass|FAIL)[^\n]*\n/.exec(text);
    if (m && verdict === undefined) {
      verdict = m[1];
      resolve();
    }
  };
  child.stdout.on("data", seen);
  child.stderr.on("data", seen);
  child.on("exit", () => resolve());
});
const timer = setTimeout(() => {
  verdict ??= "timeout";
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {}
}, 120_000);
await done;
clearTimeout(timer);
try {
  process.kill(-child.pid, "SIGTERM"); // the simulator runs until stopped: its process group, by pid
} catch {}
console.log(text.split("\n").filter((l) => /crypto self-test|XS abort|exception/i.test(l)).join("\n"));
if (verdict !== "pass") fail(`crypto self-test: ${verdict === undefined ? "the simulator exited without a verdict" : verdict === "timeout" ? "no verdict within 120 s" : "failed"}`, 1);
