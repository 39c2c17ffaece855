// Running an entry of host-tests/xs/ inside xsnap's XS worker (for host-tests/xs-engine.test.ts and
// owner-page-xs.test.ts): esbuild bundles it into one plain script, and host-tests/xs/run-xsnap.mjs,
// a child process, runs it over a corpus file and prints what it answered as JSON.

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const DRIVER = fileURLToPath(new URL("../xs/run-xsnap.mjs", import.meta.url));

/** Runs `bundle` over `corpusFile` in xsnap; what the driver printed, parsed (the caller knows its shape). */
export function runDriver<T>(bundle: string, corpusFile: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [DRIVER, bundle, corpusFile], { maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`the XS run failed (${error.message.split("\n")[0]}):\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`the XS run printed no JSON:\n${stdout.slice(0, 2000)}\n${stderr}`));
      }
    });
  });
}

/** esbuild's bundle of one entry into one plain script for xsnap. */
export async function bundleFor(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "iife",
    // XS 13 implements ES2023; es2022 is what the core is type-checked against.
    target: "es2022",
    // No Node built-in resolves, so importing one fails the build.
    platform: "neutral",
    // xsnap runs the script through a global eval: it is strict code only through its own directive.
    banner: { js: '"use strict";' },
    outfile,
    logLevel: "silent",
  });
}
