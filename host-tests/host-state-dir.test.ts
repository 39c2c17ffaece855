// The host plug's state directory: owner-only files (the settings hold the setup passphrase, the
// saved network its password), one plug at a time on it, and the user's `--wifi` list never written.

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import { loadNetworks } from "../src/host/wifi.js";
import { RawClient } from "./support/raw-client.js";
import { HostPlugs } from "./support/host-plugs.js";

const host = new HostPlugs("plug-state-");
const plugs = host.plugs;
const stateDir = (): string => host.stateDir();

async function start(options: Partial<VirtualPlugOptions> & { stateDir: string }): Promise<VirtualPlug> {
  const plug = await VirtualPlug.start({ port: 0, httpPort: 0, log: () => {}, rebootMs: 50, ...options });
  plugs.push(plug);
  return plug;
}

afterEach(() => {
  host.stopAll();
});

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const posix = process.platform !== "win32";

describe.runIf(posix)("state directory permissions", () => {
  it("a new state directory is 0700 and the settings (setup passphrase), saved network and MAC files 0600", async () => {
    const dir = join(stateDir(), "new");
    const plug = await start({ stateDir: dir });
    const c = await RawClient.connect(plug.port);
    await c.ask({ system: { set_dev_alias: { alias: "Lamp" } } });
    c.destroy();
    plug.stop(); // what waits is written
    expect(plug.wifi.save({ ssid: "HomeNetwork", keyType: 3, password: "correct horse battery" })).toBe(true);
    expect(readFileSync(join(dir, "settings.json"), "utf8")).toContain("Lamp");
    expect([mode(dir), mode(join(dir, "settings.json")), mode(join(dir, "saved-network.json")), mode(join(dir, "mac"))]).toEqual(["700", "600", "600", "600"]);
  });

  it("an existing state directory readable by everyone is made owner-only at start", async () => {
    const dir = stateDir();
    const first = await start({ stateDir: dir });
    first.stop();
    chmodSync(dir, 0o755);
    for (const name of ["settings.json", "mac"]) chmodSync(join(dir, name), 0o644);
    writeFileSync(join(dir, "settings.json.bak"), readFileSync(join(dir, "settings.json")), { mode: 0o644 });
    await start({ stateDir: dir });
    expect([mode(dir), mode(join(dir, "settings.json")), mode(join(dir, "settings.json.bak")), mode(join(dir, "mac"))]).toEqual(["700", "600", "600", "600"]);
  });
});

describe("one plug per state directory", () => {
  it("a second plug on the same state directory is refused with a clear message; the first keeps serving", async () => {
    const dir = stateDir();
    const first = await start({ stateDir: dir });
    await expect(start({ stateDir: dir })).rejects.toThrow(`the state directory ${dir} is in use by another plug (pid ${process.pid}): stop it, or give this one its own --state-dir`);
    expect((await (await RawClient.connect(first.port)).ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
    // once it stops, the directory is free
    first.stop();
    expect(existsSync(join(dir, "lock"))).toBe(false);
    await start({ stateDir: dir });
  });

  it("a lock left by a plug that died is taken over", async () => {
    const dir = stateDir();
    const gone = spawnSync(process.execPath, ["-e", ""]).pid!; // a process that has exited
    writeFileSync(join(dir, "lock"), `${gone}\n`);
    await start({ stateDir: dir });
    expect(readFileSync(join(dir, "lock"), "utf8").trim()).toBe(String(process.pid));
  });

  it("npm start on a state directory in use exits non-zero with one line", async () => {
    const dir = stateDir();
    await start({ stateDir: dir });
    // `npm start` runs the built main.ts; bundled here for the test
    const main = join(stateDir(), "main.mjs");
    await build({ entryPoints: [join(import.meta.dirname, "../src/host/main.ts")], bundle: true, platform: "node", format: "esm", outfile: main, logLevel: "silent", packages: "external" });
    const port = String(20000 + (process.pid % 20000));
    const child = spawn(process.execPath, [main, "--port", port, "--bind", "127.0.0.1", "--http-port", "0", "--state-dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const stuck = setTimeout(() => child.kill(), 15_000); // a second plug that runs is stopped (and fails below)
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    clearTimeout(stuck);
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toEqual([`cannot start: the state directory ${dir} is in use by another plug (pid ${process.pid}): stop it, or give this one its own --state-dir`]);
  }, 30_000);
});

describe("the --wifi list is the user's", () => {
  const list = JSON.stringify([{ ssid: "HomeNetwork", key_type: 3, rssi: -40, password: "correct horse battery" }]) + "\n";

  it("a list kept as $STATE/wifi.json is never replaced by the network the plug joined, and serves the next start", async () => {
    const dir = stateDir();
    const file = join(dir, "wifi.json");
    writeFileSync(file, list);
    const plug = await start({ stateDir: dir, networks: loadNetworks(file) });
    expect(plug.wifi.save({ ssid: "HomeNetwork", keyType: 3, password: "correct horse battery" })).toBe(true);
    plug.stop();
    expect(readFileSync(file, "utf8")).toBe(list);
    const again = await start({ stateDir: dir, networks: loadNetworks(file) });
    expect(again.wifi.saved()).toEqual({ ssid: "HomeNetwork", keyType: 3 });
    again.wifi.forget();
    expect(readFileSync(file, "utf8")).toBe(list);
  });

  it("the network an earlier version saved as wifi.json is kept, under the plug's own name", async () => {
    const dir = stateDir();
    writeFileSync(join(dir, "wifi.json"), JSON.stringify({ ssid: "HomeNetwork", keyType: 3, password: "correct horse battery" }) + "\n");
    const plug = await start({ stateDir: dir });
    expect(plug.wifi.saved()).toEqual({ ssid: "HomeNetwork", keyType: 3 });
    expect(existsSync(join(dir, "wifi.json"))).toBe(false);
  });
});
