// Code, tests and docs cite docs/PROTOCOL.md as "PROTOCOL §N.M" (or "docs/PROTOCOL.md §N.M"). A
// citation of a section that has no heading there sends a reader nowhere: this fails naming the file
// and line of each such citation. It scans the repository's text files under src, host-tests,
// scripts, memory, boards and docs, and README.md and SECURITY.md: those git tracks or would track
// (untracked but not ignored), or every file there when this is not a git checkout.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCANNED = ["src", "host-tests", "scripts", "memory", "boards", "docs", "README.md", "SECURITY.md"];
const PROTOCOL = "docs/PROTOCOL.md";

/**
 * "PROTOCOL §1.4", "PROTOCOL §2.6, §5.2", "PROTOCOL §1.1-§1.3", "docs/PROTOCOL.md §2.8", also
 * broken over two lines of a comment ("PROTOCOL" at the end of one, "// §2.10" starting the next).
 */
const CITATION = /PROTOCOL(?:\.md)?(?:\s|\/\/|\*|#)+§\d+(?:\.\d+)*(?:\s*(?:,|-|–|and|or)\s*§\d+(?:\.\d+)*)*/g;
const SECTION = /§(\d+(?:\.\d+)*)/g;

function scannedFiles(): string[] {
  try {
    const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ...SCANNED], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return [...new Set(out.split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f))))];
  } catch {
    // a source archive without git: every file under the scanned paths
    const files: string[] = [];
    const walk = (path: string) => {
      const full = join(ROOT, path);
      if (!existsSync(full)) return;
      if (!statSync(full).isDirectory()) {
        files.push(path);
        return;
      }
      for (const name of readdirSync(full)) if (!name.startsWith(".") && name !== "node_modules") walk(join(path, name));
    };
    for (const path of SCANNED) walk(path);
    return files.map((f) => f.split(sep).join("/"));
  }
}

/** The text of a file, or undefined when it is not text (a NUL byte in it). */
function text(file: string): string | undefined {
  const bytes = readFileSync(join(ROOT, file));
  return bytes.includes(0) ? undefined : bytes.toString("utf8");
}

/** Every citation in the scanned files: where it is, what it says, the sections it names. */
function citations(): { where: string; cited: string; sections: string[] }[] {
  const found: { where: string; cited: string; sections: string[] }[] = [];
  for (const file of scannedFiles()) {
    const body = text(file);
    if (body === undefined) continue;
    for (const match of body.matchAll(CITATION)) {
      const line = body.slice(0, match.index).split("\n").length;
      const cited = match[0].replace(/\s+/g, " ");
      found.push({ where: `${file}:${line}`, cited, sections: [...cited.matchAll(SECTION)].map((m) => m[1]) });
    }
  }
  return found;
}

/** The ATX headings of a Markdown text outside fenced code blocks. */
function headings(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced && /^#{1,6}\s/.test(line)) out.push(line.replace(/^#{1,6}\s+/, "").trim());
  }
  return out;
}

/** The section number a heading starts with ("2.10 What python-kasa…" → "2.10", "3. `get_sysinfo`" → "3"). */
function sectionOf(heading: string): string | undefined {
  return /^(\d+(?:\.\d+)*)\.?\s/.exec(heading)?.[1];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

describe("docs/PROTOCOL.md citations", () => {
  const protocol = readFileSync(join(ROOT, PROTOCOL), "utf8");
  const sections = headings(protocol).map(sectionOf).filter((s): s is string => s !== undefined);

  it("numbers each section once", () => {
    expect(sections.filter((s, i) => sections.indexOf(s) !== i)).toEqual([]);
  });

  it("every PROTOCOL § citation in code, tests and docs names a section that has a heading there", () => {
    const all = citations();
    // the scan itself works: the code cites the protocol in dozens of places
    expect(all.length).toBeGreaterThan(30);
    const known = new Set(sections);
    const broken = all.filter((c) => c.sections.some((s) => !known.has(s))).map((c) => `${c.where}: ${c.cited}`);
    expect(broken).toEqual([]);
  });

  it("its own links resolve: #anchors to its headings, relative paths to files", () => {
    const anchors = new Set(headings(protocol).map(slug));
    const broken: string[] = [];
    for (const match of protocol.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1];
      if (/^[a-z]+:/.test(target)) continue;
      const line = protocol.slice(0, match.index).split("\n").length;
      if (target.startsWith("#")) {
        if (!anchors.has(target.slice(1))) broken.push(`${PROTOCOL}:${line}: ${target}`);
      } else if (!existsSync(join(ROOT, dirname(PROTOCOL), target.split("#")[0]))) {
        broken.push(`${PROTOCOL}:${line}: ${target} (${relative(ROOT, join(ROOT, dirname(PROTOCOL), target))} does not exist)`);
      }
    }
    expect(broken).toEqual([]);
  });
});
