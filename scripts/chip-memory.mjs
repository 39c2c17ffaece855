#!/usr/bin/env node
// The chip-true memory check (docs/MEMORY.md), with the user's own Moddable SDK:
//   npm run sim:memory [-- <board> ...] [--quick] [--no-bisect] [--heap BYTES]
//
// For each board (default: every ESP8266 board in boards/, then the ESP32 one), it builds the firmware
// with that board's model and meter as a 32-bit Linux program whose XS VM lives in ONE static block
// allocated as on an ESP8266 (memory/chip/harness.c; Preference and Wi-Fi native, outside the heap,
// with the chip's limits), then runs the whole life of a plug in it:
//   first boot from a fresh flash (unprovisioned: setup network, the setup page and captive DNS
//   asked), provisioning with netif.set_stainfo, a second boot that rejoins; python-kasa's combined
//   update; every rule table filled (MAX_SCHEDULE_RULES schedule rules with 32-byte names, MAX_AWAY_RULES away rules, a countdown);
//   every Kasa method the plug answers, in turn; 1,000 sequential requests while a second client
//   sends requests and never reads what comes back.
// It reports, per board, pass/fail at the board's block (32,768 bytes on an ESP8266), the smallest
// block that passes (bisection, to 256 bytes), and the peaks; exits 1 when a board does not fit in
// its block or a run fails. --quick: 200 requests instead of 1,000 (for trying things out; the
// recorded numbers come from full runs). --no-bisect: only the board's own block. --heap BYTES:
// only that block. --mode legacy|secure|both: the plug's protocols (config.plug.mode; default: the
// board's, legacy when it names none). In secure and both modes the owner's credentials come with
// the home network in the setup page's form (fields u and w; no set_stainfo), and after the 9999
// part (both; in secure mode 9999 must be closed, TCP and UDP) the plug is driven over KLAP as
// python-kasa drives it (src/host/klap-client.ts): the discovery probe on UDP 20002, handshake1/2,
// the update, the tables filled (secure) and listed, every method, the sequential requests while a
// second KLAP client sends requests and never reads (in both mode the 9999 one stays open too),
// then a replayed seq and a wrong password refused (403) and new sessions taking the old ones' place. --verbose: the plug's last lines when a run fails. --census: the live set by what holds it (function, class,
// object shape, closure environment), at the end of each run and at an abort for memory. --stack SLOTS: run with an XS
// stack of that many slots instead of the chip's (a diagnostic: a path deeper than that aborts with a
// stack overflow, and --verbose prints the JS frames it ran under, with their depths).
//
// Needs, besides the SDK (see docs/DEVELOPING.md, "The Moddable SDK"): Debian's gcc-multilib and the i386
// GLib (dpkg --add-architecture i386; apt-get install gcc-multilib libglib2.0-dev:i386), and
// qemu-user where the kernel cannot run 32-bit programs itself.
// Builds go to build/chip/; nothing is written into the SDK.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createConnection } from "node:net";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { FrameDecoder } from "../dist/core/protocol/wire/frame.js";
import { frame } from "./bench-load.mjs";
import { utf8Decode } from "../dist/core/protocol/wire/utf8.js";
import { MAX_AWAY_RULES } from "../dist/core/modules/anti_theft.js";
import { MAX_SCHEDULE_RULES } from "../dist/core/modules/schedule.js";
import { env, fail as stopWith, requireSdk, root } from "./sdk.mjs";
import { discoveryProbe, klapConnect } from "../dist/host/klap-client.js";
import { OwnerClient } from "../dist/host/owner-client.js";

const fail = (message) => stopWith(`chip memory check: ${message}`, 2);
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const verbose = args.includes("--verbose");
/** --census: the live set by what holds it, printed at the end of a run and where a run runs out of memory. */
const censusWanted = args.includes("--census");
/** --owner-page / --no-owner-page: the board's ownerPage (config.plug.ownerPage); neither: the plug's default (on in legacy and both). */
const ownerPageFlag = args.includes("--owner-page") ? true : args.includes("--no-owner-page") ? false : undefined;
/** The console of the run that is going on (printed with --verbose when it fails). */
let lastPlug;
const bisect = !args.includes("--no-bisect");
const heapAt = args.indexOf("--heap");
const onlyHeap = heapAt >= 0 ? Number(args[heapAt + 1]) : undefined;
const stackAt = args.indexOf("--stack");
const stackSlots = stackAt >= 0 ? Number(args[stackAt + 1]) : undefined;
const modeAt = args.indexOf("--mode");
const mode = modeAt >= 0 ? args[modeAt + 1] : undefined;
const named = args.filter((a, i) => !a.startsWith("--") && ![heapAt, stackAt, modeAt].some((at) => at >= 0 && i === at + 1));

/** XS creation parameters per chip family (the SDK's defaults: NOTES.md §6, the generated makefiles). */
const CREATION = {
  esp: { static: 32768, chunk: { initial: 1536, incremental: 512 }, heap: { initial: 512, incremental: 64 }, stack: 256 },
  esp32: { static: 0, chunk: { initial: 32768, incremental: 1024 }, heap: { initial: 2048, incremental: 64 }, stack: 384 },
};
const COMMON_CREATION = { keys: { initial: 32, incremental: 32, name: 53, symbol: 3 }, parser: { buffer: 1024, table: 17 } };
/** The block a board's VM gets: the ESP8266's static block; the ESP32 has no static block, its pools add up to this. */
const BLOCK = { esp: 32768, esp32: 32768 + 2048 * 16 + 384 * 16 };
/** The target of issue 15: every ESP8266 board in 30 KB, 24 stack slots to spare. */
const TARGET = 30 * 1024;
const STACK_SPARE = 24;

const BOARDS = [
  ["sonoff_basic_r2", "esp"],
  ["sonoff_pow_r2", "esp"],
  ["blitzwolf_shp", "esp"],
  ["esp32_devkitc_relay", "esp32"],
];
const boards = named.length === 0 ? BOARDS : named.map((n) => BOARDS.find(([b]) => b === n) ?? fail(`no board "${n}" (boards: ${BOARDS.map(([b]) => b).join(", ")})`));

// The plug listens on its fixed ports (9999, 8080, 5353): where this runs as root with unshare and ip
// (util-linux, iproute2), it re-runs itself in a network namespace of its own, with only a loopback
// interface, so that it clashes with nothing on the machine and two checks can run side by side.
if (process.env.CHIP_MEMORY_NETNS !== "1" && process.getuid?.() === 0 && spawnSync("unshare", ["-n", "true"]).status === 0) {
  const inner = spawnSync("unshare", ["-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, CHIP_MEMORY_NETNS: "1" },
  });
  process.exit(inner.status ?? 1);
}

if (mode !== undefined && !["legacy", "secure", "both"].includes(mode)) fail(`--mode legacy|secure|both, not "${mode}"`);
const sdk = requireSdk();
const chipDir = join(root, "memory", "chip");
const out = join(root, "build", "chip");
mkdirSync(out, { recursive: true });

// ---- the 32-bit toolchain ----
const i386 = { ...env, PKG_CONFIG_PATH: "/usr/lib/i386-linux-gnu/pkgconfig" };
const glib = spawnSync("pkg-config", ["--cflags", "--libs", "gio-2.0", "glib-2.0"], { env: i386, encoding: "utf8" });
if (glib.status !== 0 || !/i386/.test(glib.stdout)) {
  fail("no i386 GLib: dpkg --add-architecture i386 && apt-get update && apt-get install gcc-multilib libglib2.0-dev:i386");
}
const probe = spawnSync("gcc", ["-m32", "-x", "c", "-", "-o", join(out, "m32-probe")], { input: "int main(void){return 0;}", encoding: "utf8" });
if (probe.status !== 0) fail(`gcc -m32 does not link (apt-get install gcc-multilib): ${probe.stderr.trim().split("\n")[0] ?? ""}`);
// A kernel without 32-bit support (IA32 emulation off, as on this project's CI machines) runs the
// program under qemu's user-mode emulator (Debian's qemu-user): the XS heap is the program's own, so
// its numbers are the same; only the speed differs.
const native = spawnSync(join(out, "m32-probe"), []).status === 0;
if (!native && spawnSync("qemu-i386", ["-version"]).status !== 0) {
  fail("this kernel cannot run 32-bit programs and qemu-i386 is missing: apt-get install qemu-user");
}
const launcher = native ? [] : ["qemu-i386", "-L", "/"];
const glibFlags = glib.stdout.trim().split(/\s+/);
const glibCflags = glibFlags.filter((f) => !f.startsWith("-l") && !f.startsWith("-L"));
const glibLibs = glibFlags.filter((f) => f.startsWith("-l") || f.startsWith("-L"));

function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", env, maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) {
    const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    fail(`${cmd} ${argv.slice(0, 3).join(" ")}… failed (${r.error?.message ?? `exit ${r.status}`}):\n${text.slice(-3000)}`);
  }
  return r.stdout;
}

// ---- build one board ----
/** The project's manifest for the harness: the same modules and preloads, the board's config, the chip's creation, native Preference and Wi-Fi. */
function harnessManifest(board, family) {
  const top = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"));
  const own = JSON.parse(readFileSync(join(root, "boards", board, "manifest.json"), "utf8"));
  const absolute = (p) => (typeof p === "string" && p.startsWith("./") ? join(root, p) : p);
  const mapModules = (m) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(absolute) : absolute(v)]));
  // the device's Preference and Wi-Fi modules (JS with natives, which harness/*.c implement) instead of the simulator's JS ones
  const include = top.include.filter((i) => !/network\/wifi\/manifest|files\/preference\/manifest/.test(i));
  // the time from an SNTP server on this machine (scripts' own, below): no name to resolve (a
  // failed lookup left the SDK's Linux socket module a closed socket to run on about 1 run in 4)
  // the platform's own plug settings as the device build has them (the manifest's esp platform: no
  // KLAP, no owner's page), unless the command line asks for them to be measured anyway (--mode,
  // --owner-page: a diagnostic of what does not fit)
  const platform = top.platforms[family]?.config?.plug ?? {};
  const asked = { ...(mode !== undefined ? { mode, klap: true } : {}), ...(ownerPageFlag !== undefined ? { ownerPage: ownerPageFlag } : {}) };
  const plug = { ...platform, ...own.config.plug, sntp: "127.0.0.1", ...asked };
  // the simulator's meter needs a load: a 1 kW constant one (the chip's driver decodes a simulated chip; see docs/MEMORY.md)
  if (plug.meter) plug.meter = { chip: plug.meter.chip, load: 1000 };
  return {
    include,
    config: { ...top.config, plug: { ...top.config.plug, ...plug }, file: { root: `${join(out, board)}/` } },
    modules: { ...mapModules(top.modules), preference: "$(MODULES)/files/preference/preference", wifi: "$(MODULES)/network/wifi/wifi" },
    preload: [...top.preload, "preference"],
    platforms: { lin: { modules: mapModules(top.platforms.lin.modules) } },
    creation: { ...CREATION[family], ...COMMON_CREATION, static: BLOCK[family] },
  };
}

function build(board, family) {
  const dir = join(out, board);
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, "manifest.json");
  writeFileSync(manifest, JSON.stringify(harnessManifest(board, family), null, 1));
  run("mcconfig", ["-p", "lin", "-t", "build", "-o", dir, manifest], { cwd: dir });
  const tmp = join(dir, "tmp", "lin", "mc", "release", board);
  const makefile = readFileSync(join(tmp, "makefile"), "utf8");
  const list = (name) => {
    const m = new RegExp(`^${name} =\\s*\\\\?\\n((?:\\t.*\\n)+)`, "m").exec(makefile);
    return m === null ? [] : m[1].split("\n").map((l) => l.replace(/\\$/, "").trim()).filter(Boolean);
  };
  const lib = join(out, "lib");
  const expand = (p) => p.replace("$(TMP_DIR)", tmp).replace("$(LIB_DIR)", lib);
  // the simulator's screen (its GTK host side) is replaced by harness.c
  const objects = [...list("XS_OBJECTS"), "$(TMP_DIR)/mc.xs.c.o", "$(TMP_DIR)/mc.resources.c.o", ...list("OBJECTS").filter((o) => !/\/screen\.c\.o$/.test(o))].map(expand);
  const defines = `-DXS_ARCHIVE=1 -DINCLUDE_XSPLATFORM=1 -DXSPLATFORM=\\"chip_xs.h\\" -DkCommodettoBitmapFormat=$(COMMODETTOBITMAPFORMAT) -DkPocoRotation=$(POCOROTATION) -DmxInstrument=1 -I${chipDir}`;
  const cflags = ["-c", "-m32", "-O2", "-D_RELEASE=1", "-Wno-misleading-indentation", "-Wno-implicit-fallthrough", ...glibCflags].join(" ");
  mkdirSync(lib, { recursive: true });
  run("make", ["-f", "makefile", "-j2", `LIB_DIR=${lib}`, `C_DEFINES=${defines}`, `C_FLAGS=${cflags}`, "PKGCONFIG=false", ...objects], { cwd: tmp });
  const includes = ["includes", "platforms", "sources"].map((d) => `-I${join(sdk, "xs", d)}`);
  const program = join(dir, "plug-chip");
  run("gcc", [
    "-m32", "-O2", "-D_RELEASE=1", "-DINCLUDE_XSPLATFORM=1", '-DXSPLATFORM="chip_xs.h"', "-DmxInstrument=1", `-I${chipDir}`, `-I${tmp}`, ...includes, ...glibCflags,
    join(chipDir, "harness.c"), join(chipDir, "preference.c"), join(chipDir, "wifi.c"), ...objects,
    "-o", program, ...glibLibs, "-lm", "-lpthread",
  ]);
  return program;
}

// ---- an SNTP server on 127.0.0.1:123 for the plug (the network namespace has no other) ----
let sntpUp = false;
function sntpServer() {
  const server = createSocket("udp4");
  server.on("message", (query, from) => {
    if (query.length < 48) return;
    const answer = Buffer.alloc(48);
    answer[0] = 0x24; // no leap warning, version 4, mode 4 (server)
    answer[1] = 2; // stratum
    const seconds = Math.floor(Date.now() / 1000) + 2208988800; // since 1900
    answer.writeUInt32BE(seconds >>> 0, 32); // receive time
    answer.writeUInt32BE(seconds >>> 0, 40); // transmit time
    server.send(answer, from.port, from.address);
  });
  server.on("error", () => {
    sntpUp = false; // (port 123 taken or not ours: the plug's time comes from set_time alone)
    server.close();
  });
  server.bind(123, "127.0.0.1", () => (sntpUp = true));
  return server;
}
const sntp = sntpServer();

// ---- one run of the scenario ----
const PORT = 9999;
const HTTP_PORT = 8080;
const DNS_PORT = 5353;
/** KLAP shares the setup page's port (8080 in the simulator and the harness, 80 on a device), discovery on 20002. */
const KLAP_PORT = HTTP_PORT;
const DISCOVERY_PORT = 20002;
/** The owner's credentials the KLAP modes set during onboarding, and a wrong password. */
const OWNER = { username: "owner@chip.example", password: "chip check owner password" };
const WRONG_PASSWORD = "not the owner's password";
const klapMode = mode === "secure" || mode === "both";
const UPDATE = JSON.parse(readFileSync(join(root, "host-tests", "support", "python-kasa-update.json"), "utf8"));
const SEQUENTIAL = quick ? 200 : 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Plug {
  constructor(program, heap, prefs) {
    this.console = "";
    this.prefs = prefs;
    lastPlug = this;
    const argv = [...launcher, program, "--heap", String(heap), "--prefs", prefs, ...(stackSlots ? ["--stack", String(stackSlots)] : [])];
    this.child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true, env: censusWanted ? { ...process.env, CHIP_CENSUS: "1" } : process.env });
    this.child.stdin.on("error", () => {});
    this.child.stdout.on("data", (d) => (this.console += d));
    this.child.stderr.on("data", (d) => (this.console += d));
    this.exited = new Promise((r) => this.child.on("exit", (code) => r(code)));
    this.exitCode = undefined;
    this.exited.then((c) => (this.exitCode = c));
  }
  get aborted() {
    return /XS abort[^\n]*/.exec(this.console)?.[0];
  }
  async until(test, ms, what) {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) {
      if (test()) return;
      if (this.exitCode !== undefined) break;
    }
    throw new Error(`${what}${this.aborted ? ` (${this.aborted})` : this.exitCode !== undefined ? ` (exited ${this.exitCode})` : ""}`);
  }
  /** Asks for the live set after a forced collection: [slots, chunk bytes]. */
  async live() {
    const from = this.console.length;
    this.child.stdin.write("live\n");
    await this.until(() => /chip-live: /.test(this.console.slice(from)), 5000, "no live-set report");
    return /chip-live: slots (\d+) chunks (\d+)/.exec(this.console.slice(from)).slice(1).map(Number);
  }
  /** Prints the live set by what holds it (--census). */
  async census(title) {
    const from = this.console.length;
    this.child.stdin.write("census\n");
    await this.until(() => /chip-census: total/.test(this.console.slice(from)), 20000, "no census");
    console.log(`census: ${title}\n${this.console.slice(from).split("\n").filter((l) => l.startsWith("chip-census")).join("\n")}`);
  }
  /** Ends the process it started (asked on its input, then killed by pid with its process group), and waits for its last words. */
  async stop() {
    if (this.exitCode === undefined) {
      this.child.stdin.end("quit\n");
      await Promise.race([this.exited, sleep(3000)]);
      if (this.exitCode === undefined) {
        try {
          process.kill(-this.child.pid, "SIGKILL");
        } catch {}
        await this.exited;
      }
    }
  }
}

class Client {
  constructor() {
    this.decoder = new FrameDecoder(1 << 20);
    this.answers = [];
  }
  async open() {
    this.socket = connect(PORT, "127.0.0.1");
    await new Promise((r, j) => (this.socket.once("connect", r), this.socket.once("error", j)));
    this.socket.on("data", (chunk) => this.decoder.feed(chunk, (p) => this.answers.push(utf8Decode(p))));
    this.socket.on("error", () => {});
    this.socket.on("close", () => (this.closed = true));
  }
  async ask(plug, request) {
    this.socket.write(frame(request));
    await plug.until(() => this.answers.length > 0 || this.closed, 10000, `no answer to ${JSON.stringify(request).slice(0, 80)}`);
    if (this.answers.length === 0) throw new Error(`connection closed before the answer to ${JSON.stringify(request).slice(0, 80)}`);
    return JSON.parse(this.answers.shift());
  }
  close() {
    this.socket?.destroy();
  }
}

const ok = (answer, module, method) => answer?.[module]?.[method]?.err_code === 0;
const okUpdate = (a, metered) =>
  ok(a, "system", "get_sysinfo") && ok(a, "time", "get_time") && ok(a, "schedule", "get_rules") && ok(a, "cnCloud", "get_info") &&
  (!metered || (ok(a, "emeter", "get_realtime") && ok(a, "emeter", "get_daystat") && ok(a, "emeter", "get_monthstat")));

/** Every method a plug answers, harmless ones with their real parameters (what changes state is undone or rewritten). */
function everyMethod(now) {
  const day = { year: now.year, month: now.month };
  return [
    { system: { get_sysinfo: {} } },
    { system: { set_relay_state: { state: 1 } } },
    { system: { set_led_off: { off: 1 } } },
    { system: { set_led_off: { off: 0 } } },
    { system: { set_dev_alias: { alias: "Küche 🔌 chip check" } } },
    { system: { set_dev_location: { latitude: 51.5, longitude: -0.125 } } },
    { system: { get_dev_icon: {} } },
    { system: { set_dev_icon: { icon: "", hash: "0123456789abcdef0123456789abcdef" } } },
    { system: { set_relay_state: { state: 0 } } },
    { time: { get_time: {}, get_timezone: {} } },
    { time: { set_timezone: { index: 39, year: now.year, month: now.month, mday: now.mday, hour: now.hour, min: now.min, sec: now.sec } } },
    { netif: { get_stainfo: {} } },
    { netif: { get_scaninfo: { refresh: 0 } } },
    { cnCloud: { get_info: {} } },
    { cnCloud: { get_intl_fw_list: {} } },
    { schedule: { get_rules: {}, get_next_action: {} } },
    { schedule: { get_daystat: day, get_monthstat: { year: now.year } } },
    { anti_theft: { get_rules: {} } },
    { count_down: { get_rules: {} } },
    { emeter: { get_realtime: {}, get_daystat: day, get_monthstat: { year: now.year }, get_vgain_igain: {} } },
    // the locked methods (the harness has no button: the lock stays closed): a valid one is refused
    // (-20) after its parameters were checked, an invalid one answered -3 before the lock
    { system: { set_mac_addr: { mac: "50:C7:BF:01:02:03" }, set_hw_id: { hwId: "not hex" } } },
    { cnCloud: { set_server_url: { server: "chip.example" } } },
    { emeter: { set_vgain_igain: { vgain: 13462, igain: 16835 }, start_calibration: { vtarget: 230000, itarget: 0 } } },
    { "smartlife.iot.homekit": { setup_info_get: {} } },
    { system: { get_sysinfo: {} }, nonsense: { x: {} } },
  ];
}

/** One request to the setup page, on a connection of its own: whatever came back when the plug closed it (or after 5 s). */
function setupPageExchange(request) {
  return new Promise((resolve, reject) => {
    const s = createConnection(HTTP_PORT, "127.0.0.1");
    let text = "";
    s.on("data", (d) => (text += d));
    s.on("end", () => resolve(text));
    s.on("error", reject);
    s.write(request);
    setTimeout(() => (s.destroy(), resolve(text)), 5000);
  });
}

async function setupPage() {
  // the setup page over HTTP, then a captive-DNS question, as a phone does when it joins the setup network
  const page = await setupPageExchange("GET / HTTP/1.1\r\nHost: 192.168.4.1\r\nConnection: close\r\n\r\n");
  if (!/^HTTP\/1\.1 200/.test(page) || !/<form/.test(page)) throw new Error(`the setup page did not come: ${page.slice(0, 120)}`);
  // (the page is written in pieces as the socket has room: nothing may come twice or go missing)
  if (!/<\/body><\/html>$/.test(page) || page.indexOf("</html>") !== page.length - 7) throw new Error(`the setup page did not end where it should: ${page.slice(-120)}`);
  const ownerFields = /name="u"/.test(page);
  const dns = createSocket("udp4");
  const answered = new Promise((r) => dns.once("message", r));
  // id 0x1234, one question: connectivitycheck.gstatic.com A IN
  const name = Buffer.concat(["connectivitycheck", "gstatic", "com"].map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])));
  dns.send(Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 0, 1, 0, 1])]), DNS_PORT, "127.0.0.1");
  const reply = await Promise.race([answered, sleep(3000).then(() => undefined)]);
  dns.close();
  if (reply === undefined) throw new Error("the captive DNS did not answer");
  return ownerFields;
}

/** The setup page's form posted with the home network and, in the KLAP modes, the owner's credentials (fields u and w), as a phone on the setup network does. */
async function joinFromSetupPage() {
  const body = `s=${encodeURIComponent("3:ChipCheckNet")}&p=${encodeURIComponent("chip check passphrase")}&u=${encodeURIComponent(OWNER.username)}&w=${encodeURIComponent(OWNER.password)}`;
  const page = await setupPageExchange(
    "POST /join HTTP/1.1\r\nHost: 192.168.4.1\r\nOrigin: http://192.168.4.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  if (!/^HTTP\/1\.1 200/.test(page) || /Not sent/.test(page)) throw new Error(`the setup page refused the form: ${(/<p id="status"[^>]*>.*?<\/p>/.exec(page)?.[0] ?? page).slice(0, 200)}`);
  if (page.includes(OWNER.password)) throw new Error("the setup page showed the owner's password");
}

/** Python-kasa's discovery probe on UDP 20002: the answer's JSON (after its 16-byte header) must make it pick KLAP. */
async function discoverKlap() {
  const socket = createSocket("udp4");
  const answered = new Promise((r) => socket.once("message", r));
  socket.send(discoveryProbe(), DISCOVERY_PORT, "127.0.0.1");
  const reply = await Promise.race([answered, sleep(3000).then(() => undefined)]);
  socket.close();
  if (reply === undefined) throw new Error("no answer to the discovery probe on UDP 20002");
  const json = JSON.parse(reply.subarray(16).toString("utf8"));
  const r = json.result;
  if (r?.device_type !== "IOT.SMARTPLUGSWITCH" || r?.mgt_encrypt_schm?.encrypt_type !== "KLAP" || typeof r?.mgt_encrypt_schm?.http_port !== "number") {
    throw new Error(`the discovery answer would not make python-kasa pick KLAP: ${JSON.stringify(json).slice(0, 200)}`);
  }
  return reply.length;
}

/** In secure mode port 9999 is closed: TCP refused, a UDP query unanswered. */
async function legacyClosed() {
  const refused = await new Promise((resolve) => {
    const s = connect(PORT, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(false)));
    s.once("error", () => resolve(true));
  });
  if (!refused) throw new Error("secure mode: TCP 9999 accepted a connection");
  const socket = createSocket("udp4");
  const answered = new Promise((r) => socket.once("message", r));
  // the 9999 UDP query, XOR-"encrypted" (no length prefix)
  socket.send(Buffer.from(frame({ system: { get_sysinfo: {} } })).subarray(4), PORT, "127.0.0.1");
  const reply = await Promise.race([answered, sleep(1500).then(() => undefined)]);
  socket.close();
  if (reply !== undefined) throw new Error("secure mode: UDP 9999 answered");
}

/** One KLAP client (python-kasa's way: handshake, then requests on one keep-alive connection), asked as the 9999 Client is. */
class KlapClient {
  async open() {
    this.klap = await klapConnect("127.0.0.1", KLAP_PORT, OWNER.username, OWNER.password);
  }
  async ask(plug, request) {
    try {
      return await this.klap.request(request);
    } catch (e) {
      throw new Error(`KLAP: ${e.message} asking ${JSON.stringify(request).slice(0, 80)}${plug.aborted ? ` (${plug.aborted})` : plug.exitCode !== undefined ? ` (exited ${plug.exitCode})` : ""}`);
    }
  }
  close() {
    this.klap?.close();
  }
}

/** A client that sends requests and never reads what comes back: on 9999 (frames) or over KLAP (a session of its own, requests pipelined). */
class Hog {
  constructor(klap) {
    this.klap = klap;
  }
  async open(count) {
    if (this.klap) {
      this.client = await klapConnect("127.0.0.1", KLAP_PORT, OWNER.username, OWNER.password);
      this.socket = this.client.conn.socket;
    } else {
      const c = new Client();
      await c.open();
      this.socket = c.socket;
    }
    this.socket.pause();
    this.send(count);
  }
  send(count) {
    const request = { system: { get_sysinfo: {} } };
    for (let i = 0; i < count; i++) this.socket.write(this.klap ? this.client.raw(request) : frame(request));
  }
  close() {
    this.socket?.destroy();
  }
}

/**
 * The provisioned plug at work through `client` (9999 or KLAP): python-kasa's update, the time set
 * and every rule table filled (when `fill`), every method in turn, then SEQUENTIAL requests while
 * `hog` sends and never reads. Adds its numbers to `result`; `mark` is called once the tables are full.
 */
async function serve(plug, client, hog, metered, fill, result, mark) {
  const update = await client.ask(plug, UPDATE);
  if (!okUpdate(update, metered)) throw new Error(`wrong answer to the combined update: ${JSON.stringify(update).slice(0, 300)}`);
  result.updateBytes ??= Buffer.byteLength(JSON.stringify(update)); // (the first: before the tables are filled)

  // the time, as the Kasa app sets it (the harness has no SNTP server to ask), then every rule
  // table full, the longest names, fixed rules due during the run
  const utc = new Date();
  const setTime = await client.ask(plug, { time: { set_time: { year: utc.getUTCFullYear(), month: utc.getUTCMonth() + 1, mday: utc.getUTCDate(), hour: utc.getUTCHours(), min: utc.getUTCMinutes(), sec: utc.getUTCSeconds() } } });
  if (!ok(setTime, "time", "set_time")) throw new Error(`set_time refused: ${JSON.stringify(setTime)}`);
  const now = (await client.ask(plug, { time: { get_time: {} } })).time.get_time;
  if (fill) {
    const minute = now.hour * 60 + now.min;
    const name = "ü".repeat(16); // 32 bytes of UTF-8
    const everyDay = [1, 1, 1, 1, 1, 1, 1];
    const setup = [{ system: { set_dev_location: { latitude: 51.5, longitude: -0.125 } } }];
    for (let i = 0; i < MAX_SCHEDULE_RULES; i++) {
      const smin = (minute + 1 + (i % 5)) % 1440;
      setup.push({ schedule: { add_rule: { name, enable: 1, wday: everyDay, repeat: 1, stime_opt: i % 3, smin, soffset: i - 10, sact: i % 2, etime_opt: 0, emin: (smin + 2) % 1440, eact: 1 - (i % 2) } } });
    }
    for (let i = 0; i < MAX_AWAY_RULES; i++) {
      const smin = i === 0 ? (minute + 1439) % 1440 : (minute + 60 * i) % 1440; // the first window is open now
      setup.push({ anti_theft: { add_rule: { name, enable: 1, wday: everyDay, repeat: 1, stime_opt: 0, smin, etime_opt: 0, emin: (smin + 30) % 1440, frequency: 60 } } });
    }
    setup.push({ count_down: { add_rule: { name, enable: 1, delay: 30, act: 1 } } });
    for (const request of setup) {
      const [module] = Object.keys(request);
      const [method] = Object.keys(request[module]);
      const answer = await client.ask(plug, request);
      if (!ok(answer, module, method)) throw new Error(`rule setup refused: ${JSON.stringify(answer).slice(0, 200)}`);
    }
  }
  mark();

  // every method in turn
  for (const request of everyMethod(now)) {
    const answer = await client.ask(plug, request);
    const [module] = Object.keys(request);
    if (answer?.[module] === undefined) throw new Error(`no answer for ${module}: ${JSON.stringify(answer).slice(0, 200)}`);
  }

  // a client that sends requests and never reads, open while the rest goes on
  await hog.open(64);

  const cycle = [
    [UPDATE, (a) => okUpdate(a, metered)],
    [{ schedule: { get_rules: {}, get_next_action: {} }, count_down: { get_rules: {} }, anti_theft: { get_rules: {} } },
      (a) => a?.schedule?.get_rules?.rule_list?.length === MAX_SCHEDULE_RULES && a?.anti_theft?.get_rules?.rule_list?.length === MAX_AWAY_RULES && ok(a, "count_down", "get_rules")],
    [{ system: { set_relay_state: { state: 1 } } }, (a) => ok(a, "system", "set_relay_state")],
    [{ system: { get_sysinfo: {} } }, (a) => ok(a, "system", "get_sysinfo")],
    [{ system: { set_relay_state: { state: 0 } } }, (a) => ok(a, "system", "set_relay_state")],
    [{ time: { get_time: {}, get_timezone: {} } }, (a) => ok(a, "time", "get_time")],
    [{ netif: { get_stainfo: {} } }, (a) => ok(a, "netif", "get_stainfo")],
  ];
  let good = 0;
  for (let i = 0; i < SEQUENTIAL; i++) {
    const [request, check] = cycle[i % cycle.length];
    if (i % 50 === 49) hog.send(8);
    const answer = await client.ask(plug, request);
    if (check(answer)) good++;
    else throw new Error(`wrong answer ${i}: ${JSON.stringify(answer).slice(0, 200)}`);
  }
  return good;
}

/**
 * KLAP's own cases after the serving: a wrong password refused (handshake2 403), a replayed seq
 * refused (403), sessions replaced by new handshakes (limits.klapSessions of them, each on a
 * connection of its own that asks once) and the first client's next request answered after a new
 * handshake if its session was the one replaced. Within the device's handshake budget per address.
 */
async function klapCases(plug, client) {
  // a replayed request (the last seq again)
  const seq = client.klap.session.seq;
  const replay = await client.klap.post(client.klap.session.seal(Buffer.from('{"system":{"get_sysinfo":{}}}'), seq), seq);
  if (replay.status !== 403) throw new Error(`KLAP: a replayed seq answered ${replay.status}`);
  // (python-kasa itself stops at handshake1, whose proof does not match; a client that sends
  // handshake2 anyway is refused there. Six handshakes in all here: the device's budget per address)
  await sleep(200);
  const wrong = await klapConnect("127.0.0.1", KLAP_PORT, OWNER.username, WRONG_PASSWORD, true).then(
    (c) => (c.close(), undefined),
    (e) => e,
  );
  if (wrong?.status !== 403) throw new Error(`KLAP: handshake2 with a wrong password not refused with 403: ${wrong?.message}`);
  // new sessions in turn, each one request
  for (let i = 0; i < 2; i++) {
    await sleep(200); // (the closed connections gone on the plug's side)
    const other = await klapConnect("127.0.0.1", KLAP_PORT, OWNER.username, OWNER.password);
    try {
      const a = await other.request({ system: { get_sysinfo: {} } });
      if (!ok(a, "system", "get_sysinfo")) throw new Error(`KLAP: a new session's request: ${JSON.stringify(a).slice(0, 200)}`);
    } finally {
      other.close();
    }
  }
  // the first client: its session may have been replaced (403), then python-kasa handshakes again
  let again;
  try {
    again = await client.klap.request({ system: { get_sysinfo: {} } });
  } catch (e) {
    if (e?.status !== 403 && !/closed/.test(e?.message)) throw e;
    client.close();
    await sleep(200);
    await client.open();
    again = await client.ask(plug, { system: { get_sysinfo: {} } });
  }
  if (!ok(again, "system", "get_sysinfo")) throw new Error(`KLAP: after new sessions: ${JSON.stringify(again).slice(0, 200)}`);
}

/** The whole life of a plug in a block of `heap` bytes; resolves to the numbers, or throws why it failed. */
async function scenario(program, board, heap) {
  const prefs = join(out, board, "prefs.bin");
  rmSync(prefs, { force: true });
  const metered = existsSync(join(root, "boards", board, "manifest.json")) && /"meter"/.test(readFileSync(join(root, "boards", board, "manifest.json"), "utf8"));
  const samples = (text) => [...text.matchAll(/^chip: slots (\d+) chunks (\d+) stack (\d+) block (\d+) of \d+ gc (\d+)$/gm)].map((m) => m.slice(1).map(Number));
  const result = { heap };

  // first boot from a fresh flash: unprovisioned, the setup network and page
  let plug = new Plug(program, heap, prefs);
  let client;
  try {
    await plug.until(() => / ready, relay /.test(plug.console), 20000, "the plug did not boot");
    await plug.until(() => /setup page at/.test(plug.console), 10000, "no setup page");
    const ownerFields = await setupPage();
    if (klapMode || ownerFields) {
      // the KLAP modes, and the owner's page: the home network and the owner's credentials from the setup page's form
      await joinFromSetupPage();
      await plug.until(() => /the owner's credentials set on the setup page/.test(plug.console), 5000, "the owner's credentials were not set");
    } else {
      client = new Client();
      await client.open();
      const joined = await client.ask(plug, { netif: { set_stainfo: { ssid: "ChipCheckNet", password: "chip check passphrase", key_type: 3 } } });
      if (!ok(joined, "netif", "set_stainfo")) throw new Error(`set_stainfo refused: ${JSON.stringify(joined)}`);
    }
    await plug.until(() => /Wi-Fi: address/.test(plug.console), 10000, "the plug did not join the network");
    await sleep(300);
    client?.close();
  } finally {
    await plug.stop();
  }
  result.firstBootStack = Math.max(0, ...samples(plug.console).map((s) => s[2]), Number(/chip: end peak slots \d+ chunks \d+ stack (\d+)/.exec(plug.console)?.[1] ?? 0));
  if (plug.aborted) throw new Error(`first boot: ${plug.aborted}`);

  // the provisioned plug, as after a power cycle
  plug = new Plug(program, heap, prefs);
  const hog = new Hog(false);
  const klapHog = new Hog(true);
  let klapClient;
  client = undefined;
  try {
    await plug.until(() => / ready, relay /.test(plug.console), 20000, "the plug did not boot again");
    await plug.until(() => /Wi-Fi: address/.test(plug.console), 10000, "the plug did not rejoin its network");
    if (sntpUp) await plug.until(() => /time set by SNTP/.test(plug.console), 10000, "no time from the SNTP server");
    await sleep(1100); // one sample that holds the boot
    const bootSamples = samples(plug.console).length;
    let setupSamples;
    const mark = () => (setupSamples ??= samples(plug.console).length);
    let good = 0;
    if (mode !== "secure") {
      client = new Client();
      await client.open();
      good += await serve(plug, client, hog, metered, true, result, mark);
    } else await legacyClosed();
    if (klapMode) {
      result.discoveryBytes = await discoverKlap();
      klapClient = new KlapClient();
      await klapClient.open();
      // in both mode the tables are full already (over 9999), and its hog stays open
      good += await serve(plug, klapClient, klapHog, metered, mode === "secure", result, mark);
      klapHog.close();
      await klapCases(plug, klapClient);
    }
    result.ownerPage = await ownerCases(plug);
    result.good = good;
    await sleep(1100);
    const all = samples(plug.console);
    result.bootStack = Math.max(0, ...all.slice(0, bootSamples).map((s) => s[2]));
    result.servingStack = Math.max(0, ...all.slice(bootSamples).map((s) => s[2]));
    result.servingSlots = Math.max(0, ...all.slice(setupSamples).map((s) => s[0]));
    result.servingChunks = Math.max(0, ...all.slice(setupSamples).map((s) => s[1]));
    result.gc = all.reduce((n, s) => n + s[4], 0);
    // the live set with every table full, after a forced collection
    [result.liveSlots, result.liveChunks] = await plug.live();
    if (censusWanted) await plug.census("idle, every table full");
  } finally {
    client?.close();
    klapClient?.close();
    hog.close();
    klapHog.close();
    await plug.stop();
  }
  result.sectorBytes = sectorBytes(plug.prefs);
  const end = /chip: end peak slots (\d+) chunks (\d+) stack (\d+) reserved (\d+)/.exec(plug.console);
  if (plug.aborted) throw new Error(plug.aborted);
  if (end !== null) [result.peakSlots, result.peakChunks, , result.reserved] = end.slice(1).map(Number);
  return result;
}

/** One HTTP exchange with the plug's page port on a connection of its own: status and body (Connection: close). */
function pageExchange(path, body, headers = {}) {
  return new Promise((resolve) => {
    const s = createConnection(HTTP_PORT, "127.0.0.1");
    const chunks = [];
    const done = () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const at = text.indexOf("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text: at < 0 ? "" : text.slice(at + 4) });
    };
    s.on("data", (d) => chunks.push(d));
    s.on("end", done);
    s.on("error", done);
    const bytes = typeof body === "string" ? Buffer.from(body) : Buffer.from(body ?? []);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const origin = headers.Origin === undefined ? `Origin: http://127.0.0.1:${HTTP_PORT}\r\n` : "";
    s.write(`${body === undefined ? "GET" : "POST"} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${HTTP_PORT}\r\n${body === undefined ? "" : origin}${extra}Connection: close\r\nContent-Length: ${bytes.length}\r\n\r\n`);
    if (bytes.length > 0) s.write(bytes);
    setTimeout(() => (s.destroy(), done()), 8000);
  });
}

/**
 * The owner's page, once joined, when the plug serves it (legacy and both modes unless the board
 * turns it off): the page, a log-in with the credentials the setup page set, the status, every
 * rule table listed (full: the largest answers), the relay switched, 50 requests, an update refused
 * (no slot in the harness), a wrong password and a cross-site request refused. The session stays
 * open for the live set. Returns the page's bytes, or 0 when it is off.
 */
async function ownerCases(plug) {
  const page = await pageExchange("/");
  if (page.status !== 200 || !/<\/html>$/.test(page.text)) {
    if (ownerPageFlag === true) throw new Error(`the owner's page did not come: ${page.status}`);
    return 0;
  }
  const owner = new OwnerClient((path, body, headers) => pageExchange(path, body, headers));
  const login = await owner.login(OWNER.username, OWNER.password);
  if (login !== 200) throw new Error(`owner's page: the owner's log-in got ${login}`);
  const expectOk = async (what, r) => {
    if (r.status !== 200) throw new Error(`owner's page: ${what} got ${r.status} ${r.text.slice(0, 120)}`);
    return JSON.parse(r.text);
  };
  await expectOk("status", await owner.status());
  for (const request of [{ schedule: { get_rules: {} } }, { anti_theft: { get_rules: {} } }, { count_down: { get_rules: {} } }, UPDATE]) {
    const answer = await expectOk(Object.keys(request)[0], await owner.kasa(request));
    if (JSON.stringify(answer).includes('"err_code":-5')) throw new Error(`owner's page: an answer over its bound: ${JSON.stringify(answer).slice(0, 160)}`);
  }
  for (let i = 0; i < 50; i++) await expectOk("a request", await owner.kasa({ system: { set_relay_state: { state: i & 1 } } }));
  const update = await owner.update(new Uint8Array(200));
  if (update.status === 200 && /"accepted"/.test(update.text)) throw new Error("owner's page: a garbage update was accepted");
  const stranger = new OwnerClient((path, body, headers) => pageExchange(path, body, headers));
  if ((await stranger.login(OWNER.username, WRONG_PASSWORD)) !== 403) throw new Error("owner's page: a wrong password was not refused with 403");
  const crossSite = await pageExchange(owner.next("kasa", Buffer.from("{}")), "{}", { Origin: "http://evil.example" });
  if (crossSite.status !== 403) throw new Error(`owner's page: a cross-site request got ${crossSite.status}`);
  await expectOk("status", await owner.status());
  return Buffer.byteLength(page.text);
}

/**
 * Bytes of the settings sector that hold live records at the end of a run (memory/chip/preference.c's
 * format: a 4-byte signature, then records of domain, key, type and value rounded up to 4 bytes, a
 * deleted one zeroed). An ESP8266 has 4,096 bytes for all of them.
 */
function sectorBytes(path) {
  const sector = readFileSync(path);
  let at = 4;
  let used = 4;
  while (at < sector.length) {
    if (sector[at] === 0) {
      at++;
      continue;
    }
    const key = sector.indexOf(0, sector.indexOf(0, at) + 1) + 1;
    const type = sector[key];
    const value = type === 1 ? 2 : type === 2 ? 5 : type === 3 ? sector.indexOf(0, key + 1) - key + 1 : 3 + (sector[key + 1] | (sector[key + 2] << 8));
    const size = (key - at + value + 3) & ~3;
    used += size;
    at += size;
  }
  return used;
}

async function attempt(program, board, heap) {
  try {
    return { pass: true, ...(await scenario(program, board, heap)) };
  } catch (e) {
    if (verbose) {
      const lines = lastPlug?.console.split("\n").filter((l) => !/^chip: slots/.test(l)) ?? [];
      // the last 12 lines, or from 12 lines before an overflow's frames or an exception if that is earlier
      const from = lines.findIndex((l) => /^chip-frame: |^XS exception/.test(l));
      console.log(lines.slice(Math.min(from < 0 ? Infinity : Math.max(0, from - 12), Math.max(0, lines.length - 12))).join("\n"));
    }
    if (censusWanted && /chip-census/.test(lastPlug?.console ?? "")) {
      console.log(`census: at the abort\n${lastPlug.console.split("\n").filter((l) => l.startsWith("chip-census") || l.startsWith("chip: at abort")).join("\n")}`);
    }
    return { pass: false, heap, why: String(e.message ?? e).split("\n")[0] };
  }
}

// ---- per board ----
const table = [];
let allFit = true;
for (const [board, family] of boards) {
  console.log(`\n== ${board} (${family}) ==`);
  const started = Date.now();
  const program = build(board, family);
  console.log(`built ${program} in ${Math.round((Date.now() - started) / 1000)} s`);
  const block = onlyHeap ?? BLOCK[family];
  const atBlock = await attempt(program, board, block);
  console.log(atBlock.pass ? `${block} bytes: pass` : `${block} bytes: FAIL (${atBlock.why})`);
  let smallest = atBlock.pass ? atBlock : undefined;
  if (bisect && onlyHeap === undefined) {
    // the smallest block that passes, to 256 bytes
    let low = 8192;
    let high = atBlock.pass ? block : 2 * block;
    if (!atBlock.pass) {
      const big = await attempt(program, board, high);
      console.log(big.pass ? `${high} bytes: pass` : `${high} bytes: FAIL (${big.why})`);
      smallest = big.pass ? big : undefined;
    }
    while (smallest !== undefined && high - low > 256) {
      const mid = Math.round((low + high) / 2 / 256) * 256;
      const r = await attempt(program, board, mid);
      console.log(r.pass ? `${mid} bytes: pass` : `${mid} bytes: FAIL (${r.why})`);
      if (r.pass) {
        high = mid;
        smallest = r;
      } else low = mid;
    }
  }
  const fits = atBlock.pass && (family !== "esp" || (atBlock.firstBootStack <= 256 - STACK_SPARE && atBlock.bootStack <= 256 - STACK_SPARE));
  if (!fits) allFit = false;
  table.push({ board, family, block, atBlock, smallest });
}

console.log("\n| board | block | at block | smallest block that passes | first boot stack | boot stack | serving stack | live set, full tables (slots / chunk bytes / KB) | peak slots / chunks while serving | update answer | owner's page | settings sector used |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const { board, block, atBlock, smallest: s } of table) {
  // the stack and live set of the run at the board's block, or of the smallest block that passed
  const r = atBlock.pass || s === undefined ? atBlock : { ...s, pass: true, why: undefined };
  const verdict = atBlock.pass ? "pass" : `FAIL: ${atBlock.why}`;
  const stackOf = CREATION[BOARDS.find(([b]) => b === board)[1]].stack;
  const live = r.pass ? `${r.liveSlots} / ${r.liveChunks} / ${((r.liveSlots * 16 + r.liveChunks) / 1024).toFixed(1)}` : "-";
  console.log(`| ${board} | ${block} | ${verdict} | ${s ? `${s.heap} (${(s.heap / 1024).toFixed(2)} KB)` : "none"} | ${r.pass ? `${r.firstBootStack}/${stackOf}` : "-"} | ${r.pass ? `${r.bootStack}/${stackOf}` : "-"} | ${r.pass ? `${r.servingStack}/${stackOf}` : "-"} | ${live} | ${r.pass ? `${r.servingSlots} / ${r.servingChunks}` : "-"} | ${r.pass ? r.updateBytes : "-"} | ${r.pass ? (r.ownerPage ? `on (${r.ownerPage} B)` : "off") : "-"} | ${r.pass ? `${r.sectorBytes} / 4096` : "-"} |`);
}
const esp = table.filter((t) => t.family === "esp");
const target = esp.every((t) => t.smallest !== undefined && t.smallest.heap <= TARGET);
try {
  sntp.close();
} catch {}
console.log(`\n${SEQUENTIAL} sequential requests a run. ESP8266 target (every board in ${TARGET} bytes, ${STACK_SPARE} stack slots spare): ${target ? "met" : "NOT met"}`);
process.exit(allFit ? 0 : 1);
