#!/usr/bin/env node
// What the owner's page keeps live, measured in the XS engine (xsnap, as host-tests/xs-engine.test.ts
// runs the core): a plug without the page, then the same plug with it after the page was served,
// the owner logged in, the relay switched and the status read (host-tests/xs/owner-entry.ts). The
// second sequence's `retained` is measured against the heap holding the first plug, which its start
// lets go: it is what the page costs on top of a plug without it. xsnap's figures are a 64-bit
// build's (32-byte slots; 16 on an ESP8266); a step's `slots` include the test client's own strings.
//
//   node scripts/xs-owner-memory.mjs

import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureXsnap } from "./xsnap.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
await ensureXsnap();
const dir = mkdtempSync(join(tmpdir(), "owner-memory-"));
try {
  await build({
    entryPoints: [join(root, "host-tests/xs/owner-entry.ts")], bundle: true, format: "iife", target: "es2022", platform: "neutral",
    banner: { js: '"use strict";' }, outfile: join(dir, "owner.js"), logLevel: "silent",
  });
  const frames = ["00", "01", "02", "03"];
  writeFileSync(join(dir, "corpus.json"), JSON.stringify([
    { name: "without the page", model: "none", frames, measure: [3] },
    { name: "with the page", model: "page", frames, measure: [3] },
  ]));
  const out = JSON.parse(execFileSync(process.execPath, [join(root, "host-tests/xs/run-xsnap.mjs"), join(dir, "owner.js"), join(dir, "corpus.json")], { maxBuffer: 1 << 28 }).toString());
  const [none, page] = out.sequences;
  console.log(`${out.engine}: a legacy plug without the owner's page keeps ${none.memory.retained.liveSlots} slots live (${none.memory.retained.snapshotBytes} snapshot bytes)`);
  console.log(`the owner's page adds ${page.memory.retained.liveSlots} slots (${page.memory.retained.liveSlots * 16} bytes as ESP8266 slots) and ${page.memory.retained.snapshotBytes} snapshot bytes (slots at 32 bytes, plus chunks)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
