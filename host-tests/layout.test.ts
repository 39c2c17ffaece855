// The layout shows the architecture (docs/ARCHITECTURE.md): the core is grouped into rooms, one folder
// each, and only the composition (plug.ts) and the two tables every room reads (limits.ts, timing.ts)
// sit at the top of src/core. The Moddable build finds modules only through manifest.json, folder by
// folder, so every folder of the core must be in its "modules" map and every name it maps or preloads
// must exist; and a path of the core named in the code or the docs must be one that exists.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CORE = join(ROOT, "src", "core");
/** The only files at the top of src/core: the core's composition and the tables every room reads. */
const TOP = ["limits.ts", "plug.ts", "timing.ts"];

type Manifest = { modules?: Record<string, string>; preload?: string[]; platforms?: Record<string, Manifest> };
const manifest = JSON.parse(readFileSync(join(ROOT, "manifest.json"), "utf8")) as Manifest;

/** Every folder under src/core that holds .ts files, as "device", "protocol/wire", ... */
function coreFolders(dir = CORE, prefix = ""): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const name = prefix + e.name;
    if (readdirSync(join(dir, e.name)).some((f) => f.endsWith(".ts"))) found.push(name);
    found.push(...coreFolders(join(dir, e.name), name + "/"));
  }
  return found.sort();
}

/** The project's own module maps: the top one and each platform's. */
function moduleMaps(): [string, Record<string, string>][] {
  return [["modules", manifest.modules ?? {}], ...Object.entries(manifest.platforms ?? {}).map(([p, m]) => [`platforms.${p}.modules`, m.modules ?? {}] as [string, Record<string, string>])];
}

/** The source file a module name maps to through one map ("core/<room>/*" -> "./src/core/<room>/*"), or undefined. */
function sourceOf(name: string, map: Record<string, string>): string | undefined {
  for (const [key, value] of Object.entries(map)) {
    if (!value.startsWith("./")) continue;
    if (key === name) return value;
    if (key.endsWith("/*") && value.endsWith("/*") && name.startsWith(key.slice(0, -1)) && !name.slice(key.length - 1).includes("/")) return value.slice(0, -1) + name.slice(key.length - 1);
  }
  return undefined;
}

const hasSource = (path: string) => [".ts", ".js"].some((ext) => existsSync(join(ROOT, path + ext)));

describe("the layout", () => {
  it("keeps only the composition and its tables at the top of src/core", () => {
    const top = readdirSync(CORE).filter((f) => f.endsWith(".ts") && statSync(join(CORE, f)).isFile());
    const stray = top.filter((f) => !TOP.includes(f)).map((f) => `src/core/${f}: belongs in a room (docs/ARCHITECTURE.md)`);
    expect(stray).toEqual([]);
  });

  it("names every room of the core in docs/ARCHITECTURE.md", () => {
    const doc = readFileSync(join(ROOT, "docs", "ARCHITECTURE.md"), "utf8");
    expect(coreFolders().filter((f) => !doc.includes(`src/core/${f}/`))).toEqual([]);
  });

  it("has every folder of the core in the manifest's modules map", () => {
    const map = manifest.modules ?? {};
    expect(coreFolders().filter((f) => map[`core/${f}/*`] !== `./src/core/${f}/*`)).toEqual([]);
  });

  it("maps module names only to paths that exist", () => {
    const missing: string[] = [];
    for (const [where, map] of moduleMaps()) {
      for (const [name, path] of Object.entries(map)) {
        if (!path.startsWith("./")) continue; // $(MODDABLE)/..., the SDK's
        const ok = path.endsWith("/*") ? existsSync(join(ROOT, path.slice(0, -2))) && readdirSync(join(ROOT, path.slice(0, -2))).some((f) => f.endsWith(".ts")) : hasSource(path);
        if (!ok) missing.push(`${where}: "${name}": "${path}"`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("preloads only modules that exist", () => {
    const maps = moduleMaps().map(([, m]) => m);
    const preloads = [...(manifest.preload ?? []), ...Object.values(manifest.platforms ?? {}).flatMap((p) => p.preload ?? [])];
    expect(preloads.length).toBeGreaterThan(40);
    const missing = preloads.filter((name) => !maps.some((m) => {
      const path = sourceOf(name, m);
      return path !== undefined && hasSource(path);
    }));
    expect(missing).toEqual([]);
  });

  it("names in code and docs only paths of the core that exist", () => {
    const scanned = ["src", "host-tests", "scripts", "docs", "memory", "boards", "README.md", "SECURITY.md"];
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ...scanned], { cwd: ROOT, encoding: "utf8" })
      .split("\0")
      .filter((f) => /\.(ts|mts|mjs|js|md|json|c|h)$/.test(f) && existsSync(join(ROOT, f)));
    expect(files.length).toBeGreaterThan(50);
    const wrong: string[] = [];
    for (const file of files) {
      const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
      lines.forEach((line, i) => {
        for (const m of line.matchAll(/(?<![\w-])src\/core\/[\w.\-/]*/g)) {
          const path = m[0].replace(/\.+$/, "").replace(/\.js$/, ".ts");
          if (!existsSync(join(ROOT, path))) wrong.push(`${file}:${i + 1}: ${m[0]}`);
        }
      });
    }
    expect(wrong).toEqual([]);
  });
});
