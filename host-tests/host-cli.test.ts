// `npm start`'s command line and terminal as a user meets them: one-line usage errors that name the
// flag (and the file), -h, strict ports, incompatible flags refused before the plug boots, several
// fresh plugs side by side, and what the terminal shows first.

import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { parseCommandLine, UsageError, type CommandLine } from "../src/host/cli.js";
import { DEFAULT_HTTP_PORT, PowerWatch, POWER_LINE_MS, terminalLine, VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import { HostPlugs } from "./support/host-plugs.js";
import { until } from "./support/until.js";
import { RawClient } from "./support/raw-client.js";
import { repeatingProfile } from "../src/host/load.js";

const host = new HostPlugs("plug-cli-");
afterEach(() => host.stopAll());

/** The message of the UsageError the command line gets (undefined when it is accepted). */
function refusal(...argv: string[]): string | undefined {
  try {
    parseCommandLine(argv);
    return undefined;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return e.message;
  }
}

const parse = (...argv: string[]): CommandLine => parseCommandLine(argv);

describe("the command line", () => {
  it("-h and --help ask for the usage, whatever else is there", () => {
    expect(parse("-h").help).toBe(true);
    expect(parse("--help").help).toBe(true);
    expect(parse("--port", "1e4", "-h").help).toBe(true);
  });

  it("ports are decimal numbers: no exponent, hex, octal-looking zeros, sign or empty value", () => {
    const dir = host.stateDir();
    expect(parse("--port", "10000", "--state-dir", dir).port).toBe(10000);
    expect(parse("--port=30001", "--state-dir", dir).port).toBe(30001);
    for (const bad of ["1e4", "0x7531", "070", "", "-1", "0", "65536", "12.0", " 80", "+80", "1_000"]) {
      expect(refusal("--port", bad, "--state-dir", dir)).toBe(`--port must be a port number from 1 to 65535 in decimal, not "${bad}"`);
    }
    expect(parse("--http-port", "0", "--state-dir", dir).httpPort).toBe(0);
    expect(refusal("--http-port", "8e3", "--state-dir", dir)).toBe(`--http-port must be a port number from 0 to 65535 in decimal (0: a free one), not "8e3"`);
    expect(refusal("--dns-port", "0x35", "--state-dir", dir)).toBe(`--dns-port must be a port number from 0 to 65535 in decimal (0: a free one), not "0x35"`);
  });

  it("a negative number is a value, refused with the project's own message where it means nothing", () => {
    const dir = host.stateDir();
    expect(refusal("--model", "HS110", "--load", "-5", "--state-dir", dir)).toBe("--load: watts cannot be negative (-5)");
    expect(refusal("--model", "HS110", "--volts", "-230", "--state-dir", dir)).toBe(`--volts must be 90-264, not "-230"`);
    expect(refusal("--fallback", "-1", "--state-dir", dir)).toBe(`--fallback must be a whole number of minutes from 0 to 10080, not "-1"`);
    expect(refusal("--port", "-9999", "--state-dir", dir)).toBe(`--port must be a port number from 1 to 65535 in decimal, not "-9999"`);
  });

  it("names the flag of every other mistake, on one line", () => {
    const dir = host.stateDir();
    const cases: [string[], string][] = [
      [["--prot", "1"], "unknown option --prot (--port?)"],
      [["--verbse"], "unknown option --verbse (--verbose?)"],
      [["--colour"], "unknown option --colour"],
      [["-p", "1"], `unknown option "-p": the only short one is -h`],
      [["9999"], `unexpected argument "9999": options start with --`],
      [["--port"], "--port needs a value"],
      [["--port", "--bind", "127.0.0.1"], "--port needs a value"],
      [["--port", "1", "--port", "2"], "--port is given twice"],
      [["--factory=yes"], "--factory takes no value"],
      [["--model", "HS200"], `--model must be one of HS100, HS105, HS110, HS103, KP115, not "HS200"`],
      [["--power-on", "maybe"], `--power-on must be last, on, off or schedule, not "maybe"`],
      [["--bind", "my-laptop"], `--bind must be an IP address of this machine (127.0.0.1, 0.0.0.0, ::1 ...), not "my-laptop"`],
      [["--meter", "ADE7953", "--model", "HS110"], `--meter must be one of CSE7766, HLW8012, CSE7759, BL0937, HJL-01, not "ADE7953"`],
      [["--model", "HS110", "--load", "/nonexistent/load.txt"], `--load: no such file "/nonexistent/load.txt" (and not a number of watts)`],
      [["--bind", "\u001b[2J"], `--bind must be an IP address of this machine (127.0.0.1, 0.0.0.0, ::1 ...), not "\\x1b[2J"`],
    ];
    for (const [argv, message] of cases) expect(refusal(...argv, "--state-dir", dir)).toBe(message);
  });

  it("refuses incompatible flags before anything starts", () => {
    const dir = host.stateDir();
    expect(refusal("--port", "9000", "--http-port", "9000", "--state-dir", dir)).toBe("--http-port 9000 is the plug's --port: the setup page needs a port of its own");
    expect(refusal("--dns-port", "9999", "--state-dir", dir)).toBe("--dns-port 9999 is the plug's --port (UDP discovery): the captive DNS needs a port of its own");
    expect(refusal("--model", "HS105", "--load", "60", "--state-dir", dir)).toBe("--load needs a model with an energy meter (HS110 or KP115); --model HS105 has none");
    // a fresh plug is an HS100 unless told otherwise
    expect(refusal("--load", "60", "--state-dir", dir)).toBe("--load needs a model with an energy meter (HS110 or KP115); this plug is an HS100 (the default): add --model HS110");
    expect(refusal("--volts", "120", "--meter", "BL0937", "--state-dir", dir)).toBe(
      "--volts and --meter need a model with an energy meter (HS110 or KP115); this plug is an HS100 (the default): add --model HS110",
    );
  });

  it("a load on a plug whose state directory holds a model without a meter is refused before it boots", async () => {
    const dir = host.stateDir();
    (await start({ stateDir: dir, model: "HS105" })).stop();
    expect(refusal("--load", "60", "--state-dir", dir)).toBe(`--load needs a model with an energy meter (HS110 or KP115); this plug is an HS105 (stored in ${dir}): add --model HS110`);
    expect(parse("--load", "60", "--model", "KP115", "--state-dir", dir).load?.points).toEqual([[0, 60]]);
    (await start({ stateDir: dir, model: "HS110" })).stop();
    expect(parse("--load", "60", "--state-dir", dir).load?.points).toEqual([[0, 60]]);
  });

  it("a --wifi file that is missing, a directory or not JSON: one line naming the file and what is wrong, no contents", () => {
    const dir = host.stateDir();
    const missing = join(dir, "none.json");
    expect(refusal("--wifi", missing, "--state-dir", join(dir, "s"))).toBe(`--wifi: no such file: ${missing}`);
    expect(refusal("--wifi", dir, "--state-dir", join(dir, "s"))).toBe(`--wifi: ${dir} is a directory, not a file`);
    const bad = join(dir, "networks.json");
    writeFileSync(bad, '[{"ssid": "Home", "key_type": 3,\n  "password": "hunter2 secret" x}]\n');
    expect(refusal("--wifi", bad, "--state-dir", join(dir, "s"))).toBe(`--wifi: ${bad} is not valid JSON: at line 2, column 32`);
    expect(refusal("--wifi", bad, "--state-dir", join(dir, "s"))).not.toContain("hunter2");
    writeFileSync(bad, '[{"ssid": "Home", "key_type": 3, "password": "hunter2 sec');
    expect(refusal("--wifi", bad, "--state-dir", join(dir, "s"))).toBe(`--wifi: ${bad} is not valid JSON: it ends too early`);
    writeFileSync(bad, '[{"ssid": "Home", "key_type": 3}]');
    expect(refusal("--wifi", bad, "--state-dir", join(dir, "s"))).toBe(`--wifi: ${bad}: network 1: a secured network needs its "password"`);
    writeFileSync(bad, '[{"ssid": "Home", "key_type": 3, "password": "correct horse battery"}]');
    expect(parse("--wifi", bad, "--state-dir", join(dir, "s")).networks).toEqual([{ ssid: "Home", keyType: 3, rssi: -50, password: "correct horse battery" }]);
  });

  it("a --state-dir that is a file, or under one: one line naming it", () => {
    const dir = host.stateDir();
    const file = join(dir, "plain");
    writeFileSync(file, "");
    expect(refusal("--state-dir", file)).toBe(`--state-dir: ${file} is a file, not a directory`);
    expect(refusal("--state-dir", join(file, "sub"))).toBe(`--state-dir: ${join(file, "sub")}: a part of the path is a file, not a directory`);
    mkdirSync(join(dir, "ok"));
    expect(parse("--state-dir", join(dir, "ok")).stateDir).toBe(join(dir, "ok"));
  });
});

// ---- the real command: main.ts bundled, run as `npm start` runs it ----

let main = "";
let bundleDir = "";
beforeAll(async () => {
  bundleDir = mkdtempSync(join(tmpdir(), "plug-cli-main-"));
  main = join(bundleDir, "main.mjs");
  await build({ entryPoints: [join(import.meta.dirname, "../src/host/main.ts")], bundle: true, platform: "node", format: "esm", outfile: main, logLevel: "silent", packages: "external" });
}, 60_000);
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs main with `args` until it exits (it must: a usage error, -h). */
function run(...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const stuck = setTimeout(() => child.kill(), 15_000);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(stuck);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Starts main with `args`, a plug that keeps running: its output so far, and how to stop it. */
function launch(...args: string[]) {
  const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "", exited: false, code: null as number | null };
  child.stdout.on("data", (d) => (out.stdout += d));
  child.stderr.on("data", (d) => (out.stderr += d));
  child.on("exit", (code) => Object.assign(out, { exited: true, code }));
  const stop = async () => {
    if (!out.exited) child.kill("SIGTERM");
    await until(() => out.exited, "the plug to stop", 10_000);
  };
  return { out, stop };
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe("npm start", () => {
  it("a usage error is one line on stderr naming the flag, then see --help; exit 2, nothing started", async () => {
    const dir = host.stateDir();
    for (const args of [["--port", "1e4"], ["--load", "-5", "--model", "HS110"], ["--wifi", join(dir, "none.json")], ["--bogus"]]) {
      const r = await run(...args, "--state-dir", join(dir, "s"));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^(--|unknown option --)${args[0].slice(2)}.*; see --help\\n$`));
    }
  }, 60_000);

  it("-h prints the usage and exits 0", async () => {
    const r = await run("-h");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm start -- \[options\]/);
    expect(r.stdout).toContain("-h, --help");
    expect(r.stderr).toBe("");
  }, 30_000);

  it("--load on a fresh plug (an HS100) is refused before it boots: no setup passphrase printed", async () => {
    const r = await run("--load", "60", "--port", String(await freePort()), "--state-dir", join(host.stateDir(), "s"));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("--load needs a model with an energy meter (HS110 or KP115); this plug is an HS100 (the default): add --model HS110; see --help\n");
  }, 30_000);

  it("a port in use: one line naming the port and the flag that picks another; exit 1", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await run("--port", String(port), "--state-dir", join(host.stateDir(), "s"));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`cannot start: 127.0.0.1:${port} is in use (another plug?): pick another with --port\n`);
      const page = await run("--http-port", String(port), "--port", String(await freePort()), "--state-dir", join(host.stateDir(), "s"));
      expect(page.stderr).toBe(`cannot start: 127.0.0.1:${port} is in use (another plug?): pick another with --http-port\n`);
    } finally {
      taken.close();
    }
  }, 30_000);

  it("runs two fresh plugs side by side given only their ports: each prints the setup page's port it took", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const first = launch("--port", String(a), "--state-dir", join(host.stateDir(), "a"));
    const second = launch("--port", String(b), "--state-dir", join(host.stateDir(), "b"));
    try {
      const setupPort = (out: { stdout: string }) => /setup page \(during setup\) on port (\d+)/.exec(out.stdout)?.[1];
      const up = (out: { stdout: string; exited: boolean }) => out.stdout.includes("Ctrl-C stops") || out.exited;
      await until(() => up(first.out) && up(second.out), "both plugs up", 15_000);
      expect([first.out.stderr, second.out.stderr]).toEqual(["", ""]);
      expect(setupPort(first.out)).not.toBe(setupPort(second.out));
      for (const [out, port] of [[first.out, a], [second.out, b]] as const) {
        const page = setupPort(out)!;
        expect(out.stdout).toContain(`setup page at http://127.0.0.1:${page}/`);
        // identity, then where and how, each line with its time
        const lines = out.stdout.split("\n");
        expect(lines[0]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d \\[plug 127\\.0\\.0\\.1:${port}\\] HS100\\(US\\) "TP-LINK_Smart Plug_[0-9A-F]{4}" [0-9A-F:]{17} ready, relay off$`));
        expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d \[plug [^\]]+\] listening on TCP and UDP 127\.0\.0\.1:\d+; /);
        expect(lines[2]).toContain(`talk to it: kasa --host 127.0.0.1 --port ${port} --type plug state`);
        expect(lines[2]).toContain(`npx tplink-smarthome-api getSysInfo 127.0.0.1:${port}`);
      }
      expect((await (await RawClient.connect(b)).ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
    } finally {
      await first.stop();
      await second.stop();
    }
  }, 60_000);
});

// ---- the terminal, on the virtual plug ----

async function start(options: Partial<VirtualPlugOptions> & { stateDir: string }): Promise<VirtualPlug & { lines: string[] }> {
  const lines: string[] = [];
  const plug = await VirtualPlug.start({ port: 0, httpPort: 0, log: (l) => lines.push(l), rebootMs: 50, ...options });
  host.plugs.push(plug);
  return Object.assign(plug, { lines });
}

describe("the terminal", () => {
  it("starts with the plug's identity (its relay state in it), then where it listens and how to talk to it", async () => {
    const plug = await start({ stateDir: host.stateDir(), model: "HS110" });
    expect(plug.lines[0]).toMatch(/^HS110\(EU\) "TP-LINK_Smart Plug_[0-9A-F]{4}" [0-9A-F:]{17} ready, relay off$/);
    expect(plug.lines[1]).toBe(`listening on TCP and UDP 127.0.0.1:${plug.port}; setup page (during setup) on port ${plug.httpPort}; state in ${(plug as unknown as { options: VirtualPlugOptions }).options.stateDir}`);
    expect(plug.lines[2]).toBe(
      `talk to it: kasa --host 127.0.0.1 --port ${plug.port} --type plug state (pip install python-kasa), or npx tplink-smarthome-api getSysInfo 127.0.0.1:${plug.port}`,
    );
    expect(plug.lines).not.toContain("relay OFF");
    const c = await RawClient.connect(plug.port);
    await c.ask({ system: { set_relay_state: { state: 1 } } });
    await until(() => plug.lines.includes("relay ON"), "the relay line");
    c.destroy();
  });

  it("--verbose: a line for each request with the client's address, module and method, no parameter", async () => {
    const plug = await start({ stateDir: host.stateDir(), verbose: true });
    const c = await RawClient.connect(plug.port);
    await c.ask({ system: { get_sysinfo: {} }, netif: { set_stainfo: { ssid: "HomeNetwork", password: "correct horse battery", key_type: 3 } } });
    c.destroy();
    expect(plug.lines).toContain("request from 127.0.0.1: system.get_sysinfo");
    expect(plug.lines).toContain("request from 127.0.0.1: netif.set_stainfo");
    expect(plug.lines.filter((l) => l.includes("horse"))).toEqual([]);
    const quiet = await start({ stateDir: host.stateDir() });
    await (await RawClient.connect(quiet.port)).ask({ system: { get_sysinfo: {} } });
    expect(quiet.lines.filter((l) => l.startsWith("request from"))).toEqual([]);
  });

  it("gives each line the time", async () => {
    expect(terminalLine(new Date(2026, 11, 5, 7, 3, 9), "127.0.0.1", 9999, "relay ON")).toBe("07:03:09 [plug 127.0.0.1:9999] relay ON");
    expect(terminalLine(new Date(2026, 11, 5, 23, 59, 0), "::1", 1, "alias \u001b[2J")).toBe("23:59:00 [plug ::1:1] alias \\x1b[2J");
    const spy = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const plug = await VirtualPlug.start({ port: 0, httpPort: 0, stateDir: host.stateDir() });
      host.plugs.push(plug);
      expect(spy.mock.calls[0][0]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d \\[plug 127\\.0\\.0\\.1:${plug.port}\\] HS100\\(US\\) .* ready, relay off$`));
    } finally {
      spy.mockRestore();
    }
  });

  it(`takes a free port for the setup page when ${DEFAULT_HTTP_PORT} is taken (another plug's), and says which`, async () => {
    const blocker: Server = createServer();
    const blocked = await new Promise<boolean>((resolve) => {
      blocker.once("error", () => resolve(false)); // taken already: by someone else, the same test
      blocker.listen(DEFAULT_HTTP_PORT, "127.0.0.1", () => resolve(true));
    });
    try {
      const plug = await start({ stateDir: host.stateDir(), httpPort: undefined });
      expect(plug.httpPort).not.toBe(DEFAULT_HTTP_PORT);
      expect(plug.httpPort).toBeGreaterThan(0);
      expect(plug.lines[1]).toContain(`on port ${plug.httpPort};`);
      expect(plug.lines).toContain(`setup page at http://127.0.0.1:${plug.httpPort}/`);
      // one asked for explicitly is not replaced
      await expect(start({ stateDir: host.stateDir(), httpPort: DEFAULT_HTTP_PORT })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      if (blocked) blocker.close();
    }
  });

  it("shows a load's power when it changes noticeably, a few seconds apart at most", async () => {
    const watch = new PowerWatch();
    expect(watch.check(0, 230_000, 0, 0)).toBeUndefined(); // nothing drawn: nothing to say
    expect(watch.check(60_000, 230_000, 261, 1000)).toBe("power 60.0 W (0.261 A at 230.0 V)");
    expect(watch.check(62_500, 230_000, 272, 1000 + POWER_LINE_MS)).toBeUndefined(); // within 5 %
    expect(watch.check(1_500_000, 230_000, 6522, 1000 + POWER_LINE_MS - 1)).toBeUndefined(); // too soon after the last line
    expect(watch.check(1_500_000, 230_000, 6522, 1000 + POWER_LINE_MS)).toBe("power 1500.0 W (6.522 A at 230.0 V)");
    expect(watch.check(1_540_000, 230_000, 6700, 1000 + 3 * POWER_LINE_MS)).toBeUndefined(); // within 5 %
    expect(watch.check(1_000, 230_000, 4, 1000 + 3 * POWER_LINE_MS)).toBe("power 1.0 W (0.004 A at 230.0 V)");
    expect(watch.check(2_500, 230_000, 11, 1000 + 5 * POWER_LINE_MS)).toBeUndefined(); // within 2 W

    const plug = await start({ stateDir: host.stateDir(), model: "HS110", load: { profile: repeatingProfile([[0, 60]], 230) } });
    const c = await RawClient.connect(plug.port);
    await c.ask({ system: { set_relay_state: { state: 1 } } });
    await until(() => plug.lines.some((l) => l.startsWith("power ")), "a power line", 10_000);
    expect(plug.lines.filter((l) => l.startsWith("power "))).toEqual([expect.stringMatching(/^power (59\.\d|60\.\d) W \(0\.2\d\d A at 2\d\d\.\d V\)$/)]);
    c.destroy();
  });
});
