// Settings in a JSON file in the state directory. Each change writes the whole file to
// settings.json.tmp and flushes it to the disk, keeps the file it replaces as settings.json.bak (a
// hard link, or a copy where links are not possible), renames the new one over settings.json and
// flushes the directory: a crash or power cut at any point leaves a complete settings.json, and a
// settings.json found missing or unreadable at start (a disk that lost the last write anyway) gives
// way to settings.json.bak. The core's SafeStore (checked values in two slots) sits on top, as on a
// device. The directory is owner-only (0700) and so are the plug's files in it (0600: the settings
// hold the setup passphrase, saved-network.json the Wi-Fi password), and one plug at a time runs on
// it (lockStateDir). It enforces the same limits as Moddable's Preference on an ESP8266 (15-character keys,
// 63-byte values), so that a setting too big for a real plug fails here too.

import { FIRMWARE_FILES } from "./update.js";
import { chmodSync, closeSync, copyFileSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KeyValuePort } from "../ports/ports.js";
import { checked, SPARE } from "../core/storage/safe-store.js";

export const MAX_KEY_CHARS = 15;
export const MAX_VALUE_BYTES = 63;

export const SETTINGS_FILE = "settings.json";
/** The Wi-Fi network the plug joined, with its password (wifi.ts): the plug's own file, never the `--wifi` list. */
export const SAVED_NETWORK_FILE = "saved-network.json";
/** The burned-in MAC (wifi.ts). */
export const MAC_FILE = "mac";
/** Held while a plug runs on the state directory (lockStateDir). */
export const LOCK_FILE = "lock";
/** Every file the plug writes in its state directory. */
export const PLUG_FILES: readonly string[] = Object.freeze([
  SETTINGS_FILE, SETTINGS_FILE + ".bak", SETTINGS_FILE + ".tmp", SAVED_NETWORK_FILE, SAVED_NETWORK_FILE + ".tmp", MAC_FILE, LOCK_FILE,
  ...FIRMWARE_FILES,
]);
/** The state directory and its files hold secrets (the setup passphrase, the Wi-Fi password): owner only. */
export const STATE_DIR_MODE = 0o700;
export const STATE_FILE_MODE = 0o600;

/**
 * Makes the state directory if need be and makes it and the plug's files in it owner-only (a state
 * directory from an earlier version had them readable by every user). Where the system has no such
 * modes (Windows) this changes nothing.
 */
export function secureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: STATE_DIR_MODE });
  chmodSync(dir, STATE_DIR_MODE);
  for (const name of PLUG_FILES) {
    const path = join(dir, name);
    try {
      if (statSync(path).isFile()) chmodSync(path, STATE_FILE_MODE);
    } catch {
      // not there
    }
  }
}

/** The message when another plug holds the state directory. */
function inUse(dir: string, pid: number | undefined): string {
  return `the state directory ${dir} is in use by another plug${pid === undefined ? "" : ` (pid ${pid})`}: stop it, or give this one its own --state-dir`;
}

/** Whether a process runs with this id (one of another user counts). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the state directory for this process: a lock file made exclusively, holding the pid. One
 * left by a process that is gone (a crash, a kill -9) is taken over. Throws an Error with a one-line
 * message when a running plug holds it: two plugs on one state directory would be one device twice
 * (same MAC and ids) writing the same files. Returns the release, which removes the lock if it is
 * still this process's.
 */
export function lockStateDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(path, "wx", STATE_FILE_MODE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // gone already
        }
      };
    }
    let pid: number | undefined;
    try {
      const n = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(n) && n > 0) pid = n;
    } catch {
      // removed meanwhile: try again
    }
    if (pid !== undefined && running(pid)) throw new Error(inUse(dir, pid));
    rmSync(path, { force: true }); // stale: its process is gone (or it never got to write its pid)
  }
  throw new Error(inUse(dir, undefined));
}

/**
 * A setting's value as the plug would read it at its next start (SafeStore's rule: the plain slot
 * when its check matches, else the spare one; a value from before the checks as it is), read
 * without opening the store, which would write (the command line looks at the stored model before
 * the plug starts, and another plug may hold the directory). Undefined when there is none or the
 * files cannot be read.
 */
export function storedSetting(dir: string, key: string): string | undefined {
  let values: Record<string, string> | undefined;
  for (const name of [SETTINGS_FILE, SETTINGS_FILE + ".bak"]) {
    try {
      values = load(join(dir, name));
    } catch {
      values = undefined; // unreadable: the backup is what a start would take
    }
    if (values !== undefined) break;
  }
  if (values === undefined) return undefined;
  const read = (slot: string) => (Object.prototype.hasOwnProperty.call(values, slot) ? values![slot] : undefined);
  const value = checked(key, read(key)) ?? checked(key, read(key + SPARE));
  return value ?? (read("~v") === undefined ? read(key) : undefined);
}

/** The settings in a file: undefined when it is missing; throws when it is not a settings file. */
function load(path: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") values[k] = v;
  return values;
}

export class FileStore implements KeyValuePort {
  private readonly dir: string;
  private readonly path: string;
  private values: Record<string, string> = {};
  /** Whether settings.json is a good file: only then does it become the backup at the next write. */
  private current = false;

  constructor(dir: string, private readonly onError: (message: string) => void = () => {}) {
    secureStateDir(dir);
    this.dir = dir;
    this.path = join(dir, SETTINGS_FILE);
    let problem: string;
    let unreadable = false;
    try {
      const values = load(this.path);
      if (values !== undefined) {
        this.values = values;
        this.current = true;
        return;
      }
      problem = `${SETTINGS_FILE} is missing`;
    } catch (e) {
      problem = `${SETTINGS_FILE} is unreadable (${(e as Error).message})`;
      unreadable = true;
    }
    try {
      const backup = load(this.path + ".bak");
      if (backup !== undefined) {
        this.values = backup;
        onError(`${problem}: settings restored from ${SETTINGS_FILE}.bak`);
      } else if (unreadable) {
        onError(`${problem} and there is no ${SETTINGS_FILE}.bak: starting from defaults`);
      } // neither file: a new state directory
    } catch (e) {
      onError(`${problem} and so is ${SETTINGS_FILE}.bak (${(e as Error).message}): starting from defaults`);
    }
  }

  read(key: string): string | undefined {
    return Object.prototype.hasOwnProperty.call(this.values, key) ? this.values[key] : undefined;
  }

  write(key: string, value: string): boolean {
    if (key.length === 0 || key.length > MAX_KEY_CHARS || Buffer.byteLength(value, "utf8") > MAX_VALUE_BYTES) return false;
    const previous = this.read(key);
    this.values[key] = value;
    if (this.flush()) return true;
    if (previous === undefined) delete this.values[key];
    else this.values[key] = previous;
    return false;
  }

  remove(key: string): void {
    if (this.read(key) === undefined) return;
    delete this.values[key];
    this.flush();
  }

  keys(): string[] {
    return Object.keys(this.values);
  }

  private flush(): boolean {
    const tmp = this.path + ".tmp";
    try {
      writeDurably(tmp, JSON.stringify(this.values, null, 1) + "\n", STATE_FILE_MODE); // it holds the setup passphrase
      // the file about to be replaced becomes the backup, unless it was found bad (the backup then
      // holds what this store started from, and a bad file must not replace it)
      if (this.current) {
        rmSync(this.path + ".bak", { force: true });
        try {
          linkSync(this.path, this.path + ".bak");
        } catch {
          copyFileSync(this.path, this.path + ".bak");
        }
      }
      renameSync(tmp, this.path);
      this.current = true;
      syncDirectory(this.dir);
      return true;
    } catch (e) {
      this.onError(`settings not saved: ${(e as Error).message}`);
      return false;
    }
  }
}

/** Writes a file and waits until its bytes are on the disk. */
function writeDurably(path: string, text: string, mode = 0o666): void {
  rmSync(path, { force: true }); // a file left by a crash keeps its mode: this one is made anew with `mode`
  const fd = openSync(path, "w", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces a file whole: a crash leaves the old file or the new one, never a part (written beside
 * it, synced, renamed over it, the directory synced).
 */
export function replaceFile(path: string, text: string, mode?: number): void {
  writeDurably(path + ".tmp", text, mode);
  renameSync(path + ".tmp", path);
  syncDirectory(dirname(path));
}

/** Flushes a directory's entries (the rename) to the disk, where the system allows it (not Windows). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // not supported here: the rename is still atomic, only its durability waits for the system
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
