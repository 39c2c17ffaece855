#!/usr/bin/env node
// The Moddable crypto port's self-test in the Linux simulator (not part of npm test: CI has no SDK):
//   node scripts/crypto-selftest.mjs
// Builds a small app (scripts/crypto-selftest/selftest.ts with src/moddable/crypto.ts, the KLAP core
// and the SDK's crypt natives, $(MODULES)/crypt/digest; signed updates' P-256 check, p256.ts over the
// SDK's ECDSA, src/moddable/manifest_p256.json) for the simulator into build/crypto-selftest,
// instrumented (-i: it prints what a P-256 check allocates), runs it headless (xvfb-run), prints what
// it printed and exits 0 when it says "pass". The P-256 vectors are made here with node:crypto: a
// fresh key pair each run, a signature (ieee-p1363) over a message in parts. Needs MODDABLE,
// $MODDABLE/build/bin/lin/release on PATH and xvfb (docs/DEVELOPING.md, "The Moddable SDK").

import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtApp, env, fail, requireSdk, root, simCommand } from "./sdk.mjs";

const sdk = requireSdk();
const out = join(root, "build", "crypto-selftest");
mkdirSync(out, { recursive: true });

// The modules are named after their paths in the project, so that their relative imports resolve.
const vectors = readFileSync(join(root, "host-tests", "support", "klap-vectors.json"), "utf8");
/** A public key's 65 bytes (0x04, x, y), hex. */
const rawKey = (publicKey) => {
  const jwk = publicKey.export({ format: "jwk" });
  return `04${Buffer.from(jwk.x, "base64url").toString("hex")}${Buffer.from(jwk.y, "base64url").toString("hex")}`;
};
const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
// a signed image's shape: a 44-byte header, a body, and a few odd bytes
const parts = [randomBytes(44), randomBytes(1500), randomBytes(3)];
const p256 = {
  key: rawKey(pair.publicKey),
  otherKey: rawKey(other.publicKey),
  parts: parts.map((p) => p.toString("hex")),
  signature: sign("sha256", Buffer.concat(parts), { key: pair.privateKey, dsaEncoding: "ieee-p1363" }).toString("hex"),
  n: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
};
writeFileSync(join(out, "main.js"), `import selftest from "scripts/crypto-selftest/selftest";\nselftest(${vectors.trim()}, ${JSON.stringify(p256)});\n`);
// the project's sources the app is made of, each a module named after its path
const sources = [
  "scripts/crypto-selftest/selftest.ts",
  "scripts/crypto-selftest/p256-check.ts",
  "host-tests/xs/klap-check.ts",
  "src/moddable/crypto.ts",
  "src/moddable/p256.ts",
  "src/moddable/p256-sdk.js",
  "src/core/klap/klap.ts",
  "src/core/protocol/wire/utf8.ts",
];
const name = (file) => file.slice(0, -3);
const manifest = {
  include: [
    "$(MODDABLE)/examples/manifest_base.json",
    "$(MODDABLE)/examples/manifest_typings.json",
    "$(MODULES)/crypt/digest/manifest.json",
    "$(MODULES)/base/instrumentation/manifest.json",
    "$(MODULES)/base/debug/manifest.json",
    join(root, "src", "moddable", "manifest_p256.json"),
  ],
  modules: { "*": join(out, "main"), ...Object.fromEntries(sources.map((file) => [name(file), join(root, name(file))])) },
  preload: sources.slice(3).map(name),
};
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1));

console.log("building the self-test for the simulator (mcconfig -m -i -p lin) ...");
const built = spawnSync("mcconfig", ["-m", "-i", "-p", "lin", "-t", "build", "-o", out, join(out, "manifest.json")], { cwd: out, env, encoding: "utf8" });
if (built.error || built.status !== 0) fail(`mcconfig failed (${built.error?.message ?? `exit ${built.status}`}):\n${`${built.stdout}${built.stderr}`.slice(-3000)}`, 1);

const so = builtApp(join(out, "bin", "lin", "mc", "instrument"));
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
