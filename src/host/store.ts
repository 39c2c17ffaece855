// Settings in a JSON file in the state directory. Each change writes the whole file to
// settings.json.tmp and flushes it to the disk, keeps the file it replaces as settings.json.bak (a
// hard link, or a copy where links are not possible), renames the new one over settings.json and
// flushes the directory: a crash or power cut at any point leaves a complete settings.json, and a
// settings.json found missing or unreadable at start (a disk that lost the last write anyway) gives
// way to settings.json.bak. The core's SafeStore (checked values in two slots) sits on top, as on a
// device. It enforces the same limits as Moddable's Preference on an ESP8266 (15-character keys,
// 63-byte values), so that a setting too big for a real plug fails here too.

import { closeSync, copyFileSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KeyValuePort } from "../ports/ports.js";

export const MAX_KEY_CHARS = 15;
export const MAX_VALUE_BYTES = 63;

export const SETTINGS_FILE = "settings.json";

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
    mkdirSync(dir, { recursive: true });
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
      writeDurably(tmp, JSON.stringify(this.values, null, 1) + "\n");
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
