#!/usr/bin/env node
// Memory of the core as the XS engine holds it, without a Moddable SDK: the plug runs inside
// @agoric/xsnap's XS worker (as in host-tests/xs-engine.test.ts), on a test plug's fakes.
//
//   node scripts/xs-measure.mjs heap [model]    live heap of a plug: no rules, then every rule table full
//                                               rules + a countdown (added, rebooted, two minutes on)
//   node scripts/xs-measure.mjs stack [model]   XS stack slots used by the boot (with those rules stored)
//                                               and by a few requests, above an idle baseline
//
// heap: live slots and chunk bytes from XS snapshots, which are written after a full collection and
// hold only what is alive. xsnap is a 64-bit build: a slot is 32 bytes here (16 on an ESP8266) and
// chunks carry 64-bit pointers, so compare counts and differences, not totals (the totals include the
// bundle's code, which a device keeps in flash). The store is the test's Map, in the heap here but in
// flash on a device: it is measured apart (plug dropped, store kept) and subtracted.
//
// stack: xsnap's stack is 4,096 slots and aborts on overflow. Each case runs under n frames of a
// padding function plus k slots of arguments, in a fresh worker per try; the deepest padding that
// still completes tells how many slots the case itself needs: idle's free slots minus the case's.
// A case whose answer differs from the one at the bottom of the stack counts as failed (the
// dispatcher answers -7 when a method runs out of stack). Frames differ from a device's XS build:
// compare before and after a change.

import { build } from "esbuild";
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureXsnap } from "./xsnap.mjs";

const [mode = "heap", model = "HS100"] = process.argv.slice(2);
if (mode !== "heap" && mode !== "stack") {
  console.error("usage: node scripts/xs-measure.mjs heap|stack [model]");
  process.exit(2);
}
// npm ci does not build xsnap's worker (.npmrc: ignore-scripts): build it now, or say what to install
try {
  await ensureXsnap();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
const dir = fs.mkdtempSync(join(os.tmpdir(), "kasa-xs-measure-"));
const bundlePath = join(dir, "measure.js");
await build({
  entryPoints: [fileURLToPath(new URL("./xs-measure-entry.ts", import.meta.url))],
  bundle: true,
  format: "iife",
  target: "es2022",
  outfile: bundlePath,
  logLevel: "warning",
});
const bundle = fs.readFileSync(bundlePath, "utf8");
fs.rmSync(dir, { recursive: true, force: true });

// only now: '@endo/init' locks down this process's globals, which xsnap's API needs
await import("@endo/init");
const { spawn } = await import("node:child_process");
const { default: tmp } = await import("tmp");
const { xsnap } = await import("@agoric/xsnap");

const worker = () =>
  xsnap({ os: os.type(), spawn, fs: { ...fs, ...fs.promises, tmpName: tmp.tmpName }, name: "kasa-xs-measure", stdout: "ignore", stderr: "ignore", meteringLimit: 0 });

/** Live slots and chunk bytes: the sizes of a snapshot's HEAP and BLOC atoms. */
async function live(w) {
  const parts = [];
  for await (const chunk of w.makeSnapshotStream("measure")) parts.push(Buffer.from(chunk));
  const snapshot = Buffer.concat(parts);
  const atoms = {};
  for (let at = 8; at < snapshot.length; ) {
    const size = snapshot.readUInt32BE(at);
    atoms[snapshot.toString("latin1", at + 4, at + 8)] = size - 8;
    at += size;
  }
  const slotSize = snapshot.readInt8(8 + 8 + 3); // VERS: major, minor, patch, sizeof(txSlot)
  return { slots: atoms.HEAP / slotSize, chunks: atoms.BLOC };
}

const minus = (a, b) => ({ slots: a.slots - b.slots, chunks: a.chunks - b.chunks });
const show = (x) => `${x.slots} slots + ${x.chunks} chunk bytes`;
const call = (w, code) => w.evaluate(code);

if (mode === "heap") {
  const w = await worker();
  try {
    await call(w, bundle);
    /** The plug alone: measured, then without the plug, then without its store either. */
    const plugAlone = async () => {
      const all = await live(w);
      await call(w, "dropPlug()");
      const store = await live(w);
      await call(w, "dropStore()");
      const none = await live(w);
      return { plug: minus(all, store), store: minus(store, none) };
    };
    await call(w, `boot(${JSON.stringify(model)})`);
    const empty = await plugAlone();
    await call(w, `boot(${JSON.stringify(model)})`);
    await call(w, "fillRules()");
    const added = await live(w);
    await call(w, "reboot()");
    const rebooted = await live(w);
    await call(w, "advance(120000)");
    await call(w, `ask('{"schedule":{"get_rules":{}},"anti_theft":{"get_rules":{}},"count_down":{"get_rules":{}},"system":{"get_sysinfo":{}}}')`);
    const full = await plugAlone();
    console.log(`${model} in xsnap (${os.arch()}), live after a full collection, the store apart:`);
    console.log(`  plug, no rules:                        ${show(empty.plug)} (its store ${show(empty.store)})`);
    console.log(`  plug, 20 + 4 + 1 rules, two minutes on: ${show(full.plug)} (its store ${show(full.store)})`);
    console.log(`  the rules:                             ${show(minus(full.plug, empty.plug))}`);
    console.log(`  (whole heap just after adding them ${show(added)}, after the reboot ${show(rebooted)})`);
  } finally {
    await w.close().catch(() => {});
  }
} else {
  /** Whether `what` completes under n pad frames and k slots, in a fresh worker with the rules stored. */
  const fits = async (what, n, k) => {
    const w = await worker();
    try {
      await call(w, bundle);
      await call(w, `boot(${JSON.stringify(model)})`);
      await call(w, "fillRules()");
      await call(w, "reboot()");
      const { reply } = await call(w, `probe(${JSON.stringify(what)}, ${n}, ${k})`);
      return reply.length === 1 && reply[0] === 1;
    } catch {
      return false; // the stack overflowed: xsnap aborts the command
    } finally {
      await w.terminate().catch(() => {});
    }
  };
  /** The largest x in [lo, hi) for which test(x) holds (test(lo) must). */
  const largest = async (lo, hi, test) => {
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (await test(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  /** Free slots under `what`, in slots of padding: n frames less one, then slot by slot. */
  const free = async (what, perFrame) => {
    if (!(await fits(what, 0, 0))) throw new Error(`${what} fails at the bottom of the stack`);
    const n = (await largest(0, 1024, (x) => fits(what, x, 0))) - 1;
    const k = await largest(0, 64, (x) => fits(what, n, x));
    return { n, k, slots: perFrame === undefined ? undefined : n * perFrame + k };
  };
  const idle = await free("idle");
  const idleLess = await largest(0, 64, (x) => fits("idle", idle.n - 1, x));
  const perFrame = idleLess - idle.k;
  const idleSlots = idle.n * perFrame + idle.k;
  console.log(`${model} in xsnap: XS stack slots used above an idle baseline (one padding frame = ${perFrame} slots)`);
  const cases = [
    ["boot", "boot, 20 + 4 + 1 rules stored"],
    ['{"system":{"get_sysinfo":{}}}', "get_sysinfo"],
    ['{"schedule":{"get_rules":{},"get_next_action":{}}}', "schedule get_rules + get_next_action"],
    ['{"anti_theft":{"get_rules":{}}}', "anti_theft get_rules"],
    ['{"count_down":{"get_rules":{}}}', "count_down get_rules"],
    ["edit", "schedule edit_rule (finds the last rule of a full table, writes its setting)"],
  ];
  for (const [what, label] of cases) {
    const f = await free(what, perFrame);
    console.log(`  ${label}: ${idleSlots - f.slots}`);
  }
}
