#!/usr/bin/env node
// @agoric/xsnap's XS worker, built on first use rather than at install.
//
// @agoric/xsnap compiles the XS engine from C in its install script, which needs make and a C
// compiler. The project's .npmrc sets ignore-scripts, so `npm ci` never runs it and works on a
// machine with Node alone; the XS engine check (host-tests/xs-engine.test.ts) and
// scripts/xs-measure.mjs build the worker here when they first need it, and where it cannot be
// built they fail with one line saying what to install. (An optionalDependency would not do:
// npm drops an optional package when any package under it declares another Node version, and
// @agoric/xsnap's tree declares `>=22` (amaro) and `^20.9 || ^22.11` (xsnap itself), so npm would
// leave it out, silently, on Node 20 and 24 even with a compiler.)
//
//   node scripts/xsnap.mjs      builds the worker if it is not built (about a minute), else says so
//
// As a module: xsnapState(), whyNotBuildable(), ensureXsnap().

import { spawn } from "node:child_process";
import { accessSync, constants, createWriteStream, existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { delimiter, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** What to install where the worker cannot be built, for the one-line messages. */
export const INSTALL_HINT = "install make and a C compiler (Debian/Ubuntu: apt install build-essential; macOS: xcode-select --install)";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PLATFORMS = { Linux: "lin", Darwin: "mac" };

/**
 * Where @agoric/xsnap is and whether its worker is built. `packageDir` defaults to the project's
 * node_modules/@agoric/xsnap; a test points it elsewhere.
 */
export function xsnapState(packageDir = join(ROOT, "node_modules", "@agoric", "xsnap")) {
  const platform = PLATFORMS[os.type()];
  const worker = join(packageDir, "xsnap-native", "xsnap", "build", "bin", platform ?? "lin", "release", "xsnap-worker");
  return {
    packageDir,
    platform,
    installed: existsSync(join(packageDir, "package.json")),
    worker,
    built: existsSync(worker),
  };
}

/** The first of `names` that is an executable file on `path`, or undefined. */
function onPath(names, path) {
  for (const dir of (path ?? "").split(delimiter)) {
    if (dir === "") continue;
    for (const name of names) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** Why the worker cannot be built here (one line, without the "XS engine check:" prefix), or undefined. */
export function whyNotBuildable(state, path = process.env.PATH) {
  if (state.platform === undefined) return `@agoric/xsnap builds on Linux and macOS only, not on ${os.type()} (use WSL)`;
  if (!state.installed) return `@agoric/xsnap is not installed (no ${state.packageDir}): run npm ci`;
  const missing = ["make", "cc"].filter((tool) => onPath([tool], path) === undefined);
  if (missing.length > 0) return `@agoric/xsnap is not built and cannot be here (no ${missing.join(", no ")} on PATH): ${INSTALL_HINT}, then run npm test again`;
  return undefined;
}

/** The variables xsnap's own install script passes to its build (its build.env: where the sources come from). */
function buildEnv(packageDir) {
  const env = { ...process.env };
  const file = join(packageDir, "build.env");
  if (existsSync(file)) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) env[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
  }
  // Both cores: XS is some 30 C files.
  env.MAKEFLAGS = `${env.MAKEFLAGS ?? ""} -j${os.availableParallelism?.() ?? os.cpus().length}`.trim();
  return env;
}

/**
 * Builds the worker if it is not built. Resolves to the state (built); rejects with an Error whose
 * message is one line ("XS engine check: ...") where it is not built and cannot be, or the build
 * fails. `say` gets a line before and after a build (a minute or two); the compiler's output goes
 * to xsnap-build.log in the package, which a failure names.
 */
export async function ensureXsnap({ state = xsnapState(), path = process.env.PATH, say = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const fail = (message) => {
    const error = new Error(`XS engine check: ${message}`);
    error.stack = error.message; // the line is the whole story: no stack under it
    throw error;
  };
  if (state.built) return state;
  const why = whyNotBuildable(state, path);
  if (why !== undefined) fail(why);

  const logFile = join(state.packageDir, "xsnap-build.log");
  say(`XS engine check: building @agoric/xsnap's XS worker from C (once; a minute or two; compiler output in ${relative(process.cwd(), logFile)})...`);
  const started = Date.now();
  const log = createWriteStream(logFile);
  await new Promise((resolve) => log.once("open", resolve));
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(state.packageDir, "src", "build.js")], {
      cwd: state.packageDir,
      env: { ...buildEnv(state.packageDir), ...(path === undefined ? {} : { PATH: path }) },
      stdio: ["ignore", log, log],
    });
    child.once("error", (error) => {
      log.write(`${error.message}\n`);
      resolve(-1);
    });
    child.once("close", (status, signal) => resolve(signal ?? status));
  });
  await new Promise((resolve) => log.end(resolve));
  const after = xsnapState(state.packageDir);
  if (code !== 0 || !after.built) fail(`building @agoric/xsnap failed (${code !== 0 ? `exit ${code}` : "no worker made"}): see ${logFile}`);
  say(`XS engine check: @agoric/xsnap's worker built in ${Math.round((Date.now() - started) / 1000)} s`);
  return after;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const state = xsnapState();
  if (state.built) {
    console.log(`@agoric/xsnap's worker is built: ${state.worker}`);
  } else {
    try {
      await ensureXsnap({ state, say: (line) => console.log(line) });
    } catch (error) {
      console.error(error.message);
      process.exitCode = 1;
    }
  }
}
