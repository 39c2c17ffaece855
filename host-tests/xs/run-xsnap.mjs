#!/usr/bin/env node
// Runs the XS engine check's corpus inside the real XS engine (@agoric/xsnap's xsnap-worker, built
// from Moddable's C sources when npm installs it) and prints the answers as JSON on stdout.
//
//   node host-tests/xs/run-xsnap.mjs <bundle.js> <corpus.json>
//
// bundle.js:   host-tests/xs/entry.ts bundled by esbuild into one plain (iife) script.
// corpus.json: [{ "name": "HS100", "model": "HS100", "frames": ["<hex>", ...], "measure": [3, 4], "heapAt": [2, 9] }, ...]
//              ("measure", optional: the indices of the frames whose allocation is measured;
//              "heapAt", optional: the live heap is taken before these frames, the number of frames
//              meaning after the last)
// stdout:      { "engine": "xsnap 0.15.0 (XS 13.3.0)", "strict": true, "ms": {...},
//                "sequences": [{ "name": "HS100", "answers": ["<hex>", ...], "memory": {...}, "heaps": [...] }, ...] }
//
// Memory, for a sequence with "measure", from what xsnap reports after each command (`meterUsage`,
// written by fxWriteOkay in xsnap-worker.c). The figures are the 64-bit host's: a slot is 32 bytes
// here and 16 on the ESP8266; chunks (the bytes of strings, arrays, ArrayBuffers) are the same size.
// - `currentHeapCount` is the slots in use: each new slot adds one, and a collection sets it to the
//   live ones. A measured frame is preceded by a collection (the worker's `gc()`), so the count after
//   the frame less the count after `gc()` is the slots the frame allocated, garbage included: `slots`.
//   Nothing collects in between: the worker starts with 256 K slots and 32 MB of chunks, the frames
//   allocate some 30 K slots at most, and the driver fails if the heap grows (`allocate` moves).
//   (xsnap hides its own collections from weak references, so this cannot be checked from inside;
//   with 28 MB of live strings put in the heap before the sequence, every count came out the same.)
//   xsnap offers no peak, and no per-command figure for chunks.
// - `compute` is the command's XS meter count ("computrons"), counted from 0 for each command.
// - `allocate` is not per command: it is `the->allocatedSpace`, all that XS has taken from the system
//   for its heaps since the machine was made (about 42 MB); it moves only when a heap grows.
// - `retained` compares the heap after the sequence with the heap before its plug was made, both
//   after a collection: `liveSlots`, and `snapshotBytes`, the growth of a snapshot of the whole
//   machine (the worker collects, then writes every live slot and chunk), which counts chunks too.
//   Both include what xsnap keeps of each script it evaluates (1 slot, 64 bytes of snapshot) for the
//   driver's own evaluations in between: startPlug, a gc() per measured frame and one at the end.
// - `heaps`, for a sequence with "heapAt": the live heap (`liveSlots`, `snapshotBytes`, as for
//   `retained`) at each of those points, { at, liveSlots, snapshotBytes }: what the plug keeps of the
//   frames between two points is the difference (plus the 1 slot and 64 bytes of the gc() evaluated
//   at the first point).
//
// Its own process, never vitest's: xsnap's API needs SES, and '@endo/init' locks down every global
// of the process that imports it. Any failure exits non-zero with the reason on stderr.

import '@endo/init';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import tmp from 'tmp';
import { xsnap } from '@agoric/xsnap';

const [bundlePath, corpusPath] = process.argv.slice(2);
if (!bundlePath || !corpusPath) {
  console.error('usage: run-xsnap.mjs <bundle.js> <corpus.json>');
  process.exit(2);
}

const toHex = bytes => Buffer.from(bytes).toString('hex');
const fromHex = hex => Uint8Array.from(Buffer.from(hex, 'hex'));
const decoder = new TextDecoder();

/** The worker binary xsnap() spawns, asked for its version (it prints e.g. "xsnap 0.15.0 (XS 13.3.0)"). */
function engineVersion() {
  const platform = { Linux: 'lin', Darwin: 'mac' }[os.type()];
  if (platform === undefined) throw Error(`xsnap does not support ${os.type()}`);
  const bin = fileURLToPath(
    new URL(`../xsnap-native/xsnap/build/bin/${platform}/release/xsnap-worker`, import.meta.resolve('@agoric/xsnap')),
  );
  return execFileSync(bin, ['-v'], { encoding: 'utf8' }).trim();
}

const started = performance.now();
const engine = engineVersion();
const bundle = fs.readFileSync(bundlePath, 'utf8');
const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));

const worker = await xsnap({
  os: os.type(),
  spawn,
  fs: { ...fs, ...fs.promises, tmpName: tmp.tmpName },
  name: 'kasa-xs-engine-check',
  // The worker's print() would land in our stdout, which carries the JSON: keep it out.
  stdout: 'ignore',
  stderr: 'inherit',
  // No computation limit per command (xsnap's default is 1e8 "computrons"): this is a test, not a vat.
  meteringLimit: 0,
});

/** The slots in use just after a collection, and `allocate` then. */
async function collect() {
  const { currentHeapCount, allocate } = (await worker.evaluate('gc()')).meterUsage;
  if (typeof currentHeapCount !== 'number' || typeof allocate !== 'number') {
    throw Error(`xsnap reported no heap figures: currentHeapCount ${currentHeapCount}, allocate ${allocate}`);
  }
  return { liveSlots: currentHeapCount, allocate };
}

/** The live heap: slots, and the size of a snapshot (slots and chunks; the worker collects first). */
async function heap() {
  let snapshotBytes = 0;
  for await (const bytes of worker.makeSnapshotStream('kasa-xs-engine-check')) snapshotBytes += bytes.length;
  return { ...(await collect()), snapshotBytes };
}

/** The live heap before frame `at` of a sequence ("heapAt"). */
async function heapBefore(at) {
  const { liveSlots, snapshotBytes } = await heap();
  return { at, liveSlots, snapshotBytes };
}

let failed = false;
try {
  await worker.evaluate(bundle);
  const strictReply = await worker.evaluate('new Uint8Array([strictCode ? 1 : 0]).buffer');
  const strict = strictReply.reply.length === 1 && strictReply.reply[0] === 1;
  const loaded = performance.now();

  const sequences = [];
  for (const sequence of corpus) {
    const measure = new Set(sequence.measure ?? []);
    const heapAt = new Set(sequence.heapAt ?? []);
    const before = measure.size > 0 ? await heap() : undefined;
    await worker.evaluate(`startPlug(${JSON.stringify(sequence.model)})`);
    const answers = [];
    const commands = [];
    const heaps = [];
    for (let i = 0; i < sequence.frames.length; i++) {
      if (heapAt.has(i)) heaps.push(await heapBefore(i));
      const collected = measure.has(i) ? await collect() : undefined;
      const { reply, meterUsage } = await worker.issueCommand(fromHex(sequence.frames[i]));
      if (reply.length === 0) {
        // Every answer frame has at least its 4-byte header: an empty reply means handleCommand failed.
        const why = decoder.decode((await worker.evaluate('lastError()')).reply);
        throw Error(`${sequence.name} request #${i} has no answer in XS: ${why}`);
      }
      answers.push(toHex(reply));
      if (collected !== undefined) {
        const { currentHeapCount, compute, allocate } = meterUsage;
        if (allocate !== before.allocate) {
          // a grown heap means a collection may have run inside the frame: its count would be too low
          throw Error(`${sequence.name} request #${i}: XS grew its heap (allocate ${before.allocate} -> ${allocate}): no measure`);
        }
        commands.push({ index: i, slots: currentHeapCount - collected.liveSlots, compute, allocate });
      }
    }
    if (heapAt.has(sequence.frames.length)) heaps.push(await heapBefore(sequence.frames.length));
    const result = { name: sequence.name, answers, ...(heapAt.size > 0 ? { heaps } : {}) };
    if (before === undefined) {
      sequences.push(result);
    } else {
      const after = await heap();
      const retained = { liveSlots: after.liveSlots - before.liveSlots, snapshotBytes: after.snapshotBytes - before.snapshotBytes };
      sequences.push({ ...result, memory: { commands, retained } });
    }
  }
  const done = performance.now();

  const ms = {
    startAndLoad: Math.round(loaded - started),
    requests: Math.round(done - loaded),
  };
  process.stdout.write(JSON.stringify({ engine, strict, ms, sequences }) + '\n');
} catch (e) {
  failed = true;
  console.error(`run-xsnap: ${e && e.stack ? e.stack : e}`);
} finally {
  await worker.close().catch(e => {
    failed = true;
    console.error(`run-xsnap: closing the worker: ${e}`);
  });
}
process.exitCode = failed ? 1 : 0;
