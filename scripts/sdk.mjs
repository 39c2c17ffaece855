// What the scripts that drive the user's own Moddable SDK share: the SDK check, a PATH with the
// project's tsc, finding the app mcconfig built, and the simulator command line.

import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// mcconfig compiles the TypeScript with `tsc` from PATH and needs TypeScript 6 or newer: the project's own.
export const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH ?? ""}` };

export function fail(message, code = 2) {
  console.error(message);
  process.exit(code);
}

/** $MODDABLE, or a clear stop when it is missing. */
export function requireSdk() {
  const sdk = process.env.MODDABLE;
  if (!sdk) {
    fail("MODDABLE is not set: install the Moddable SDK as its Getting Started guide says, then export MODDABLE and put $MODDABLE/build/bin/<os>/release on PATH (see docs/DEVELOPING.md, \"The Moddable SDK\").");
  }
  if (!existsSync(sdk)) fail(`MODDABLE points to ${sdk}, which does not exist.`);
  return sdk;
}

/** The mc.so that mcconfig built under `binDir` (it names the app after the project's folder). */
export function builtApp(binDir) {
  const app = existsSync(binDir) ? readdirSync(binDir).find((name) => existsSync(join(binDir, name, "mc.so"))) : undefined;
  if (app === undefined) fail(`no mc.so under ${binDir}`);
  return join(binDir, app, "mc.so");
}

/** The command that runs a simulator build: in a window, or headless under Xvfb with the console line-buffered. */
export function simCommand(sdk, so, headless) {
  const mcsim = join(sdk, "build", "bin", "lin", "release", "mcsim");
  return headless ? ["xvfb-run", ["-a", "stdbuf", "-oL", "-eL", mcsim, so]] : [mcsim, [so]];
}
