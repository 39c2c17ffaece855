// `--load`: what is plugged into the virtual plug, for its simulated energy meter. A constant number
// of watts, or a file of watts over time that repeats; read here (the host's business), turned into
// the core's LoadProfile, and measured by a simulated chip through the real driver (simulate.ts).

import { readFileSync, statSync } from "node:fs";
import { DEFAULT_LIMITS } from "../core/energy/meter/meter.js";
import { DEFAULT_MAINS_VOLTS, wattsOverTime, type LoadProfile, type SimulatedChipModel } from "../core/energy/meter/simulate.js";
import { PERSONALITIES, findPersonality } from "../core/device/personality.js";

/** The chips `--meter` accepts (the CSE7766's UART frames or the pulse chips' counts). */
export const METER_CHIPS: readonly SimulatedChipModel[] = Object.freeze(["CSE7766", "HLW8012", "CSE7759", "BL0937", "HJL-01"]);
export const DEFAULT_METER_CHIP: SimulatedChipModel = "CSE7766";
export const DEFAULT_VOLTS = DEFAULT_MAINS_VOLTS;
/** Mains voltages the world uses (100-240 V) with their ±10 %. */
export const MIN_VOLTS = 90;
export const MAX_VOLTS = 264;
/** A profile file has at most this many points and this many bytes. */
export const MAX_POINTS = 10_000;
export const MAX_FILE_BYTES = 1 << 20;
/** Times in a profile file go up to a year (seconds). */
export const MAX_SECONDS = 366 * 86_400;

/** Model keys that have an energy meter (HS110, KP115). */
export const METERING_MODELS: readonly string[] = Object.freeze(PERSONALITIES.filter((p) => p.emeter !== "none").map((p) => p.key));

/** The description of an idle meter: a metering plug with nothing plugged in still reads the mains voltage. */
export const NOTHING_PLUGGED_IN = "nothing plugged in";

/** What `--load`, `--volts` and `--meter` asked for. */
export interface LoadSpec {
  /** What the command line said: "60 W" or the file's path, for the log. */
  readonly description: string;
  /** [seconds, watts] steps; one point is a constant load. */
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly volts: number;
  readonly chip: SimulatedChipModel;
}

/**
 * The most a simulated plug measures at `volts`: the driver's limits for a 16 A plug (meter.ts
 * DEFAULT_LIMITS: 20 A, 5 kW). A load above it would read as nothing (the driver rejects it).
 */
export function maxWatts(volts: number): number {
  return Math.floor(Math.min(DEFAULT_LIMITS.maxPower_mw, (DEFAULT_LIMITS.maxCurrent_ma * volts)) / 1000);
}

function checkWatts(w: number, volts: number, where: string): void {
  if (!Number.isFinite(w)) throw new Error(`${where}: "${w}" is not a number of watts`);
  if (w < 0) throw new Error(`${where}: watts cannot be negative (${w})`);
  const max = maxWatts(volts);
  if (w > max) throw new Error(`${where}: ${w} W is more than the plug measures at ${volts} V (at most ${max} W: a 16 A plug's 20 A and 5 kW)`);
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Reads a profile: lines `seconds watts` or `seconds,watts` (`#` starts a comment, blank lines are
 * skipped), or JSON `[[seconds, watts], ...]`. Times are ≥ 0 and strictly ascending.
 */
export function parseProfile(text: string, volts: number, name = "the load file"): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  const add = (t: number, w: number, where: string) => {
    if (!Number.isFinite(t) || t < 0 || t > MAX_SECONDS) throw new Error(`${where}: the time must be 0-${MAX_SECONDS} seconds, not ${t}`);
    checkWatts(w, volts, where);
    const prev = points[points.length - 1];
    if (prev !== undefined && t <= prev[0]) throw new Error(`${where}: times must go up (${t} s comes after ${prev[0]} s)`);
    if (points.length >= MAX_POINTS) throw new Error(`${name}: more than ${MAX_POINTS} points`);
    points.push([t, w]);
  };
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    let data: unknown;
    try {
      data = JSON.parse(trimmed);
    } catch (e) {
      throw new Error(`${name}: not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(data)) throw new Error(`${name}: JSON must be a list of [seconds, watts]`);
    data.forEach((p: unknown, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "number" || typeof p[1] !== "number")
        throw new Error(`${name}, entry ${i + 1}: expected [seconds, watts], got ${JSON.stringify(p)?.slice(0, 40)}`);
      add(p[0], p[1], `${name}, entry ${i + 1}`);
    });
  } else {
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*/, "").trim();
      if (line === "") return;
      const where = `${name}, line ${i + 1}`;
      const fields = line.split(/\s*,\s*|\s+/);
      if (fields.length !== 2 || !NUMBER.test(fields[0]) || !NUMBER.test(fields[1]))
        throw new Error(`${where}: expected "seconds watts" or "seconds,watts", got "${line.slice(0, 40)}"`);
      add(Number(fields[0]), Number(fields[1]), where);
    });
  }
  if (points.length === 0) throw new Error(`${name}: no points`);
  return points;
}

/** Reads a profile file, refusing one that is too large before reading it. */
export function readProfileFile(path: string, volts: number): Array<[number, number]> {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error(`${path} is not a file`);
    size = st.size;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === "ENOENT" ? `no such file "${path}" (and not a number of watts)` : err.message);
  }
  if (size > MAX_FILE_BYTES) throw new Error(`${path}: ${size} bytes, more than ${MAX_FILE_BYTES}`);
  return parseProfile(readFileSync(path, "utf8"), volts, path);
}

/**
 * The watts of `points` (seconds) as a LoadProfile (ms): steps, each value holding from its time to
 * the next one's; before the first point the first value. With two or more points the profile
 * repeats: the last point's time is the length of the cycle, at which it starts over from time 0
 * (so the last point only marks the end, its watts are not used). One point is a constant load.
 */
export function repeatingProfile(points: ReadonlyArray<readonly [number, number]>, volts: number, powerFactor = 1): LoadProfile {
  return wattsOverTime(points.map((p) => [p[0] * 1000, p[1]] as const), volts, powerFactor, true);
}

/** The parts of the command line that matter here. */
export interface LoadArgs {
  load?: string;
  volts?: string;
  meter?: string;
  model?: string;
}

/**
 * Checks `--load`, `--volts` and `--meter` (and that an explicit `--model` meters); reads the
 * profile file. `--volts` or `--meter` alone is nothing plugged in (0 W) on that mains and chip.
 * Undefined when none is given (the virtual plug's meter then reads DEFAULT_VOLTS with nothing
 * plugged in). Throws an Error whose message is for the user.
 */
export function parseLoadArgs(args: LoadArgs): LoadSpec | undefined {
  if (args.load === undefined && args.volts === undefined && args.meter === undefined) return undefined;
  if (args.model !== undefined) {
    const p = findPersonality(args.model);
    if (p !== undefined && p.emeter === "none")
      throw new Error(`${args.load !== undefined ? "--load" : "--volts and --meter"} need${args.load !== undefined ? "s" : ""} a model with an energy meter (${METERING_MODELS.join(" or ")}); ${p.key} has none`);
  }
  let volts = DEFAULT_VOLTS;
  if (args.volts !== undefined) {
    volts = NUMBER.test(args.volts.trim()) ? Number(args.volts) : NaN;
    if (!(volts >= MIN_VOLTS && volts <= MAX_VOLTS)) throw new Error(`--volts must be ${MIN_VOLTS}-${MAX_VOLTS}, not "${args.volts}"`);
  }
  let chip = DEFAULT_METER_CHIP;
  if (args.meter !== undefined) {
    const found = METER_CHIPS.find((c) => c === args.meter!.toUpperCase());
    if (found === undefined) throw new Error(`--meter must be one of ${METER_CHIPS.join(", ")}, not "${args.meter}"`);
    chip = found;
  }
  if (args.load === undefined) return { description: NOTHING_PLUGGED_IN, points: [[0, 0]], volts, chip };
  const value = args.load.trim();
  if (NUMBER.test(value)) {
    const watts = Number(value);
    checkWatts(watts, volts, "--load");
    return { description: `${watts} W`, points: [[0, watts]], volts, chip };
  }
  if (value === "") throw new Error(`--load needs watts (e.g. 60) or a file`);
  let points;
  try {
    points = readProfileFile(value, volts);
  } catch (e) {
    throw new Error(`--load: ${(e as Error).message}`);
  }
  return { description: value, points, volts, chip };
}
