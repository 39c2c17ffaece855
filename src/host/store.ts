// Settings in a JSON file in the state directory, written whole to a temporary file and renamed over
// the old one, so that a crash mid-write leaves the previous settings intact. It enforces the same
// limits as Moddable's Preference on an ESP8266, so that a setting too big for a real plug fails here too.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KeyValuePort } from "../ports/ports.js";

export const MAX_KEY_CHARS = 15;
export const MAX_VALUE_BYTES = 63;

export class FileStore implements KeyValuePort {
  private readonly path: string;
  private values: Record<string, string> = {};

  constructor(dir: string, private readonly onError: (message: string) => void = () => {}) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, "settings.json");
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.path, "utf8"));
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") this.values[k] = v;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") onError(`settings unreadable, starting from defaults: ${(e as Error).message}`);
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
      writeFileSync(tmp, JSON.stringify(this.values, null, 1) + "\n");
      renameSync(tmp, this.path);
      return true;
    } catch (e) {
      this.onError(`settings not saved: ${(e as Error).message}`);
      return false;
    }
  }
}
