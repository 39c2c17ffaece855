// The XS engine check where @agoric/xsnap's worker is not built (scripts/xsnap.mjs): `npm ci` does not
// build it (.npmrc: ignore-scripts), so the check builds it on first use, and where it cannot, it
// fails with one line saying what to install. Here on fake package directories and a PATH of our
// choosing: no compiler runs.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureXsnap, xsnapState } from "../scripts/xsnap.mjs";

const dir = mkdtempSync(join(tmpdir(), "kasa-xsnap-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A directory holding executables that do nothing, named `names`. */
function binDir(name: string, names: string[]): string {
  const bin = join(dir, name);
  mkdirSync(bin, { recursive: true });
  for (const n of names) {
    writeFileSync(join(bin, n), "#!/bin/sh\nexit 0\n");
    chmodSync(join(bin, n), 0o755);
  }
  return bin;
}

/** An installed, unbuilt @agoric/xsnap whose build script runs `buildJs`. */
function fakePackage(name: string, buildJs: string): string {
  const pkg = join(dir, name);
  mkdirSync(join(pkg, "src"), { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@agoric/xsnap", version: "0.0.0" }));
  writeFileSync(join(pkg, "build.env"), "XSNAP_TEST_FROM_BUILD_ENV=yes\n");
  writeFileSync(join(pkg, "src", "build.js"), buildJs);
  return pkg;
}

/** The error ensureXsnap rejects with (or the test fails). */
async function refusal(options: Parameters<typeof ensureXsnap>[0]): Promise<Error> {
  const error = await ensureXsnap(options).then(() => undefined, (e: Error) => e);
  expect(error, "ensureXsnap resolved").toBeInstanceOf(Error);
  return error!;
}

const ONE_LINE = /^XS engine check: [^\n]+$/;

describe.skipIf(process.platform === "win32")("XS engine check where @agoric/xsnap's worker is not built", () => {
  it("without make and cc: one line saying what to install, and nothing is run", async () => {
    const pkg = fakePackage("no-tools", "require('fs').writeFileSync('ran', '')");
    const said: string[] = [];
    const error = await refusal({ state: xsnapState(pkg), path: binDir("empty", []), say: (l) => said.push(l) });
    expect(error.message).toMatch(ONE_LINE);
    expect(error.message).toContain("@agoric/xsnap is not built and cannot be here (no make, no cc on PATH)");
    expect(error.message).toContain("apt install build-essential");
    expect(error.stack).toBe(error.message); // vitest prints the line alone, no stack under it
    expect(said).toEqual([]);
  });

  it("with make but no C compiler: names the compiler alone", async () => {
    const error = await refusal({ state: xsnapState(fakePackage("make-only", "")), path: binDir("make-only-bin", ["make"]) });
    expect(error.message).toMatch(ONE_LINE);
    expect(error.message).toContain("(no cc on PATH): install make and a C compiler");
  });

  it("not installed at all: says to run npm ci", async () => {
    const error = await refusal({ state: xsnapState(join(dir, "missing")), path: binDir("tools", ["make", "cc"]) });
    expect(error.message).toMatch(ONE_LINE);
    expect(error.message).toContain("@agoric/xsnap is not installed");
    expect(error.message).toContain("run npm ci");
  });

  it("with the tools: runs xsnap's own build with its build.env, saying so before and after", async () => {
    // the fake build makes the worker where xsnap() looks for it, if it got build.env's variables
    const pkg = fakePackage(
      "buildable",
      `const fs = require('fs'); const path = require('path');
       if (process.env.XSNAP_TEST_FROM_BUILD_ENV !== 'yes') process.exit(3);
       const worker = ${JSON.stringify(xsnapState(join(dir, "buildable")).worker)};
       fs.mkdirSync(path.dirname(worker), { recursive: true }); fs.writeFileSync(worker, '');`,
    );
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@agoric/xsnap", version: "0.0.0", type: "commonjs" }));
    expect(xsnapState(pkg).built).toBe(false);
    const said: string[] = [];
    const state = await ensureXsnap({ state: xsnapState(pkg), path: `${binDir("tools", ["make", "cc"])}:${process.env.PATH}`, say: (l) => said.push(l) });
    expect(state.built).toBe(true);
    expect(said).toHaveLength(2);
    expect(said[0]).toMatch(/^XS engine check: building @agoric\/xsnap's XS worker from C/);
    expect(said[1]).toMatch(/^XS engine check: @agoric\/xsnap's worker built in \d+ s$/);
  });

  it("a build that fails: one line naming the log", async () => {
    const pkg = fakePackage("failing", "console.error('make: *** [xsAll.o] Error 1'); process.exit(2);");
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@agoric/xsnap", version: "0.0.0", type: "commonjs" }));
    const error = await refusal({ state: xsnapState(pkg), path: `${binDir("tools", ["make", "cc"])}:${process.env.PATH}`, say: () => {} });
    expect(error.message).toMatch(ONE_LINE);
    expect(error.message).toMatch(/building @agoric\/xsnap failed \(exit 2\): see .*xsnap-build\.log$/);
  });
});
