// The README and docs/ as a newcomer meets them: the README stays a five-minute read, every relative
// link (and #anchor) in the README, docs/, SECURITY.md and boards/README.md leads somewhere, and the
// README's raw-frame one-liner and its tplink-smarthome-api module snippet work as printed against a
// host plug (only the port is changed to the plug's).

import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualPlug } from "../src/host/virtual-plug.js";
import { HostPlugs } from "./support/host-plugs.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const README = join(ROOT, "README.md");
/** The README's budget: a newcomer reads it in five minutes. */
const README_MAX_BYTES = 10 * 1024;

/** The documents whose links are checked. */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join(ROOT, "docs", f));
  return [README, join(ROOT, "SECURITY.md"), join(ROOT, "boards", "README.md"), ...docs];
}

/** Markdown without fenced code blocks and inline code spans (their brackets are not links). */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Every relative link of a file that does not lead to an existing file, or to an existing heading of it. */
function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  for (const m of prose(readFileSync(file, "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
    const link = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
    const [path, anchor] = link.split("#", 2) as [string, string | undefined];
    const target = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
    const where = `${relative(ROOT, file)}: ${link}`;
    if (!existsSync(target)) broken.push(`${where} (no such file)`);
    else if (anchor !== undefined && (statSync(target).isDirectory() || !target.endsWith(".md") || !anchors(target).has(anchor))) {
      broken.push(`${where} (no such heading)`);
    }
  }
  return broken;
}

function run(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 15000 }, (err, stdout, stderr) => (err ? fail(new Error(`${err.message}\n${stderr}`)) : done(stdout)));
  });
}

describe("README and docs", () => {
  it(`README.md is under ${README_MAX_BYTES} bytes`, () => {
    expect(statSync(README).size).toBeLessThan(README_MAX_BYTES);
  });

  it("every relative link and #anchor in the README, docs/, SECURITY.md and boards/README.md resolves", () => {
    expect(documents().flatMap(brokenLinks)).toEqual([]);
  });

  it("docs/HOST.md names every flag that --help lists", () => {
    const usage = /const USAGE = `([\s\S]*?)`;/.exec(readFileSync(join(ROOT, "src", "host", "cli.ts"), "utf8"));
    expect(usage, "USAGE in src/host/cli.ts").not.toBeNull();
    const flags = [...usage![1].matchAll(/^ {2}(--?[a-z][a-z-]*)/gm)].map((m) => m[1]);
    expect(flags.length).toBeGreaterThan(10);
    const host = readFileSync(join(ROOT, "docs", "HOST.md"), "utf8");
    expect(flags.filter((f) => !new RegExp("`" + f + "[ `]").test(host))).toEqual([]);
  });

  it("the README links every file of docs/", () => {
    const readme = readFileSync(README, "utf8");
    const missing = readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md") && !readme.includes(`](docs/${f})`));
    expect(missing).toEqual([]);
  });
});

describe("the README's examples against a host plug", () => {
  const host = new HostPlugs("readme-test-");
  afterEach(() => host.stopAll());

  async function start(): Promise<VirtualPlug> {
    const plug = await VirtualPlug.start({ port: 0, httpPort: 0, stateDir: host.stateDir(), log: () => {} });
    host.plugs.push(plug);
    return plug;
  }

  it("the raw-frame one-liner prints the plug's get_sysinfo, and switches it with another request", async () => {
    const line = readFileSync(README, "utf8").split("\n").find((l) => l.startsWith("node -e '"));
    expect(line, "a line starting with node -e '").toBeDefined();
    // node -e 'SCRIPT' 'REQUEST': two single-quoted shell words, neither holding a single quote
    const words = /^node -e '([^']*)' '([^']*)'$/.exec(line!);
    expect(words, "node -e 'SCRIPT' 'REQUEST'").not.toBeNull();
    const [, script, request] = words!;
    expect(script).toContain('connect(9999,"127.0.0.1"');
    expect(JSON.parse(request)).toEqual({ system: { get_sysinfo: {} } });

    const plug = await start();
    const ours = script.replace('connect(9999,"127.0.0.1"', `connect(${plug.port},"127.0.0.1"`);
    const answer = JSON.parse(await run(["-e", ours, request]));
    expect(answer.system.get_sysinfo).toMatchObject({ err_code: 0, model: "HS100(US)", relay_state: 0 });

    expect(JSON.parse(await run(["-e", ours, '{"system":{"set_relay_state":{"state":1}}}']))).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    expect(JSON.parse(await run(["-e", ours, request])).system.get_sysinfo.relay_state).toBe(1);
  });

  it("the tplink-smarthome-api snippet runs as an ES module and switches the plug on", async () => {
    const blocks = [...readFileSync(README, "utf8").matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    const snippet = blocks.find((b) => b.includes("tplink-smarthome-api"));
    expect(snippet, "a js block using tplink-smarthome-api").toBeDefined();
    expect(snippet).toContain("port: 9999");

    const plug = await start();
    const out = await run(["--input-type=module", "-e", snippet!.replace("port: 9999", `port: ${plug.port}`)]);
    expect(out.trim()).toMatch(/^TP-LINK_Smart Plug_[0-9A-F]{4} true$/);
  });
});
