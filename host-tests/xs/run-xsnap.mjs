#!/usr/bin/env node
// Runs the XS engine check's corpus inside the real XS engine (@agoric/xsnap's xsnap-worker, built
// from Moddable's C sources when npm installs it) and prints the answers as JSON on stdout.
//
//   node host-tests/xs/run-xsnap.mjs <bundle.js> <corpus.json>
//
// bundle.js:   host-tests/xs/entry.ts bundled by esbuild into one plain (iife) script.
// corpus.json: [{ "name": "HS100", "model": "HS100", "frames": ["<hex>", ...] }, ...]
// stdout:      { "engine": "xsnap 0.15.0 (XS 13.3.0)", "strict": true, "ms": {...},
//                "sequences": [{ "name": "HS100", "answers": ["<hex>", ...] }, ...] }
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

let failed = false;
try {
  await worker.evaluate(bundle);
  const strictReply = await worker.evaluate('new Uint8Array([strictCode ? 1 : 0]).buffer');
  const strict = strictReply.reply.length === 1 && strictReply.reply[0] === 1;
  const loaded = performance.now();

  const sequences = [];
  for (const sequence of corpus) {
    await worker.evaluate(`startPlug(${JSON.stringify(sequence.model)})`);
    const answers = [];
    for (let i = 0; i < sequence.frames.length; i++) {
      const { reply } = await worker.issueCommand(fromHex(sequence.frames[i]));
      if (reply.length === 0) {
        // Every answer frame has at least its 4-byte header: an empty reply means handleCommand failed.
        const why = decoder.decode((await worker.evaluate('lastError()')).reply);
        throw Error(`${sequence.name} request #${i} has no answer in XS: ${why}`);
      }
      answers.push(toHex(reply));
    }
    sequences.push({ name: sequence.name, answers });
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
