#!/usr/bin/env node
// `npm start`'s build: runs `tsc -p tsconfig.host.json` (npm run build) only when something it
// compiles changed since the last build this script ran. What it compiles is the sources under
// src/core, src/ports and src/host, the tsconfig files and the installed TypeScript; their paths,
// sizes and modification times (directories' too: a file removed or renamed changes its
// directory's) make a signature, kept in dist/.build-signature once tsc succeeded. Same signature,
// dist/host/main.js there: nothing to do (a few milliseconds instead of tsc's seconds).

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const SIGNATURE = join(root, "dist", ".build-signature");
const INPUTS = ["src/core", "src/ports", "src/host", "tsconfig.json", "tsconfig.host.json", "node_modules/typescript/package.json"];

/** Every input's path, size and time, directories walked. */
function signature() {
  const parts = [];
  const visit = (relative) => {
    let st;
    try {
      st = statSync(join(root, relative));
    } catch {
      parts.push(`${relative} -`);
      return;
    }
    parts.push(`${relative} ${st.size} ${st.mtimeMs}`);
    if (st.isDirectory()) for (const name of readdirSync(join(root, relative)).sort()) visit(join(relative, name));
  };
  for (const input of INPUTS) visit(input);
  return parts.join("\n");
}

const before = signature();
let last = "";
try {
  last = readFileSync(SIGNATURE, "utf8");
} catch {
  // never built by this script
}
if (last === before && existsSync(join(root, "dist", "host", "main.js"))) process.exit(0);

rmSync(SIGNATURE, { force: true });
const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.host.json")], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// the signature taken before compiling: a source saved during the build is compiled next time
writeFileSync(SIGNATURE, before);
