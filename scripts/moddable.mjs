#!/usr/bin/env node
// Runs the user's own Moddable SDK (mcconfig, mcsim) on this project. Builds go to ./build.
//   npm run sim                        build for the Linux simulator and open it
//   npm run sim:headless               the same under Xvfb, console only (Ctrl-C stops)
//   npm run sim -- --device nodemcu    as a simulated NodeMCU: relay and LED on its LEDs, its button toggles
//   npm run sim:headless -- sim_meter  with a simulator config from boards/ (sim_meter: an HS110 whose
//                                      CSE7766 is simulated on a 60 W load); built to build/<name>
//   npm run build:esp32 -- <board>     board build for an ESP32 board in boards/
//   npm run build:esp -- <board>       board build for an ESP8266 board in boards/
// Add --debug for a debug build (xsbug), --flash to flash the board instead of only building,
// --mode legacy|secure|both for the plug's protocols (config.plug.mode; KLAP in secure and both).
// Every build gets package.json's version; an ESP32 build the owner's update key from
// keys/update-public.json when there is one (scripts/build-settings.mjs).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildSettings } from "./build-settings.mjs";
import { builtApp, env, fail, requireSdk, root, simCommand } from "./sdk.mjs";

const [target, ...rest] = process.argv.slice(2);
const debug = rest.includes("--debug");
const flash = rest.includes("--flash");
const deviceAt = rest.indexOf("--device");
// A simulated device (sim/<name>: nodemcu, m5stack, ...) shows the relay and LED on its LEDs and has a button.
const device = deviceAt >= 0 ? rest[deviceAt + 1] : undefined;
const modeAt = rest.indexOf("--mode");
const mode = modeAt >= 0 ? rest[modeAt + 1] : undefined;
if (modeAt >= 0 && mode !== "legacy" && mode !== "secure" && mode !== "both") fail("--mode legacy, secure or both");
// the first word that is neither a flag nor the value of --device or --mode (the board itself)
const board = rest.find((a, i) => !a.startsWith("--") && (deviceAt < 0 || i !== deviceAt + 1) && (modeAt < 0 || i !== modeAt + 1));

const sdk = requireSdk();

function run(cmd, args) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env });
  if (r.error) fail(`${cmd}: ${r.error.message} (is $MODDABLE/build/bin/<os>/release on PATH?)`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const simBoard = (target === "sim" || target === "sim:headless") && board !== undefined;
// a simulator config (boards/<name>/manifest.json including ../../manifest.json) builds apart, so that
// builtApp finds its app; so does a build in another mode
const out = join(root, "build", ...(simBoard ? [board] : []), ...(mode !== undefined ? [`mode-${mode}`] : []));
mkdirSync(out, { recursive: true }); // mcconfig -o wants it to exist
const common = ["-m", ...(debug ? ["-d"] : []), "-o", out];

/** The version, and on an ESP32 the update key, as mcconfig's name=value arguments (after the manifest). */
function settings(platform) {
  let made;
  try {
    made = buildSettings(platform, root);
  } catch (e) {
    fail(e.message);
  }
  for (const note of made.notes) console.log(note);
  return made.args;
}

/**
 * The manifest to build: the project's (or a board's), or with --mode one written into the build
 * folder that includes it and sets config.plug.mode (mcconfig's name=value overrides set top-level
 * config keys only, not plug's).
 */
function withMode(manifest) {
  if (mode === undefined) return manifest;
  const wrapper = join(out, "manifest.json");
  writeFileSync(wrapper, `${JSON.stringify({ include: [manifest ?? join(root, "manifest.json")], config: { plug: { mode } } }, null, 1)}\n`);
  return wrapper;
}

if (target === "sim" || target === "sim:headless") {
  if (deviceAt >= 0 && !device) fail("name a simulated device: --device nodemcu (see $MODDABLE/build/simulators)");
  const manifest = simBoard ? join(root, "boards", board, "manifest.json") : undefined;
  if (manifest !== undefined && !existsSync(manifest)) fail(`no simulator config "${board}" in boards/`);
  const built = withMode(manifest);
  run("mcconfig", [...common, "-p", device ? `sim/${device}` : "lin", "-t", "build", ...(built ? [built] : []), ...settings("lin")]);
  const so = builtApp(join(out, "bin", "lin", device ?? "mc", debug ? "debug" : "release"));
  run(...simCommand(sdk, so, target === "sim:headless"));
} else if (target === "esp32" || target === "esp") {
  if (!board) fail(`name a board: npm run build:${target} -- <board>  (boards: see boards/)`);
  const dir = join(root, "boards", board);
  if (!existsSync(join(dir, "manifest.json"))) fail(`no board "${board}" in boards/`);
  const built = withMode(undefined);
  run("mcconfig", [...common, "-p", `${target}:${dir}`, ...(flash ? [] : ["-t", "build"]), ...(built ? [built] : []), ...settings(target)]);
} else {
  fail("usage: node scripts/moddable.mjs sim|sim:headless|esp32 <board>|esp <board> [--debug] [--flash] [--mode legacy|secure|both]");
}
