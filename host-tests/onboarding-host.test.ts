// Onboarding end to end on the host target, over real sockets: Kasa frames on TCP 9999 (as python-kasa's
// `wifi scan` / `wifi join` send them), the setup page over HTTP, the captive DNS over UDP.

import { Resolver } from "node:dns/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import { loadNetworks, SETUP_CLIENT_PREFIX, type VirtualNetwork } from "../src/host/wifi.js";
import { askOnce } from "./support/raw-client.js";
import { until } from "./support/until.js";
import { PRESENCE_REQUIRED } from "../src/core/device/presence.js";
import { DEBOUNCE_MS, UNLOCK_HOLD_MS } from "../src/core/timing.js";
import { HostClock } from "../src/host/time.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The host's clock, moved on by `skew` ms: a button held for seconds without waiting for them. */
class SkewedClock extends HostClock {
  skew = 0;
  override monotonic(): number {
    return super.monotonic() + this.skew;
  }
}

const NETWORKS: VirtualNetwork[] = [
  { ssid: "HomeNetwork", keyType: 3, rssi: -45, password: "right-password-1" },
  { ssid: "Café <Gäste>", keyType: 0, rssi: -70 },
];

const plugs: VirtualPlug[] = [];
const dirs: string[] = [];

async function start(options: Partial<VirtualPlugOptions> = {}) {
  const dir = options.stateDir ?? mkdtempSync(join(tmpdir(), "plug-onboard-"));
  dirs.push(dir);
  const lines: string[] = [];
  const plug = await VirtualPlug.start({
    port: 0, httpPort: 0, dnsPort: 0, stateDir: dir, log: (l) => lines.push(l), rebootMs: 50, networks: NETWORKS, ...options,
  });
  plugs.push(plug);
  return Object.assign(plug, { lines, dir });
}

afterEach(() => {
  for (const p of plugs.splice(0)) p.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const state = (p: VirtualPlug) => p.plug.context.onboarding.state;
const page = async (p: VirtualPlug, path = "/") => {
  const r = await fetch(`http://127.0.0.1:${p.httpPort}${path}`, { redirect: "manual" });
  return { status: r.status, location: r.headers.get("location"), text: await r.text() };
};

describe("onboarding on the host target", () => {
  it("factory → scan → wrong password → back in setup with the reason → right password → joined → restart → still joined", async () => {
    const plug = await start({ factory: true });
    expect(state(plug)).toBe("setup");
    expect(plug.wifi.accessPoint).toEqual({ ssid: expect.stringMatching(/^TP-LINK_Smart Plug_[0-9A-F]{4}$/), secured: true });
    expect(plug.lines.some((l) => /WPA2 passphrase: [a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/.test(l))).toBe(true);

    const scan = await askOnce(plug.port, { netif: { get_scaninfo: { refresh: 1 } } });
    expect(scan.netif.get_scaninfo).toEqual({ ap_list: [{ ssid: "HomeNetwork", key_type: 3 }, { ssid: "Café <Gäste>", key_type: 0 }], err_code: 0 });

    const wrong = await askOnce(plug.port, { netif: { set_stainfo: { ssid: "HomeNetwork", password: "wrong-password", key_type: 3 } } });
    expect(wrong.netif.set_stainfo).toEqual({ mac: plug.plug.context.device.identity.mac, err_code: 0 });
    await until(() => plug.lines.some((l) => l.includes('joining "HomeNetwork" failed: wrong password')), "the failed join");
    expect(state(plug)).toBe("setup");
    expect((await page(plug)).text).toContain("Could not join &ldquo;HomeNetwork&rdquo;: wrong password.");
    expect((await askOnce(plug.port, { netif: { get_stainfo: {} } })).netif.get_stainfo).toEqual({ ssid: "", key_type: 0, rssi: 0, err_code: 0 });

    await askOnce(plug.port, { netif: { set_stainfo: { ssid: "HomeNetwork", password: "right-password-1", key_type: 3 } } });
    await until(() => state(plug) === "joined", "joined");
    expect(plug.wifi.accessPoint).toBeNull();
    // the setup page is gone with the setup network: its port serves the owner's page now (issue 19)
    expect((await page(plug)).text).not.toContain('action="/join"');
    expect((await page(plug, "/join")).status).toBe(404);
    expect((await askOnce(plug.port, { netif: { get_stainfo: {} } })).netif.get_stainfo).toEqual({ ssid: "HomeNetwork", key_type: 3, rssi: -45, err_code: 0 });

    const booted = plug.waitForBoot();
    await askOnce(plug.port, { system: { reboot: { delay: 0 } } });
    await booted;
    await until(() => state(plug) === "joined", "joined after the restart");
    expect(plug.wifi.accessPoint).toBeNull();
    expect(plug.lines.filter((l) => l.includes("is up")).length).toBe(2); // at first boot and after the failure only
    const everything = plug.lines.join("\n");
    expect(everything).not.toContain("wrong-password");
    expect(everything).not.toContain("right-password-1");
  });

  it("a reset plug is back in setup mode; a --factory start wipes settings but keeps identity", async () => {
    const clock = new SkewedClock();
    const plug = await start({ factory: true, clock });
    await askOnce(plug.port, { netif: { set_stainfo: { ssid: "HomeNetwork", password: "right-password-1", key_type: 3 } } });
    await until(() => state(plug) === "joined", "joined");
    await askOnce(plug.port, { system: { set_dev_alias: { alias: "Lamp" } } });
    const mac = plug.plug.context.device.identity.mac;
    // from the LAN alone a joined plug refuses; a short press toggles and opens nothing; the button
    // held 2-5 s opens the lock for one command (the plug's clock is moved on rather than waited for)
    expect((await askOnce(plug.port, { system: { reset: { delay: 0 } } })).system.reset.err_code).toBe(PRESENCE_REQUIRED.err_code);
    expect(state(plug)).toBe("joined");
    plug.button.down();
    await sleep(DEBOUNCE_MS + 50);
    plug.button.up();
    await sleep(DEBOUNCE_MS + 50);
    expect((await askOnce(plug.port, { system: { reset: { delay: 0 } } })).system.reset.err_code).toBe(PRESENCE_REQUIRED.err_code);
    plug.button.down();
    await sleep(DEBOUNCE_MS + 50);
    clock.skew += UNLOCK_HOLD_MS + 500;
    plug.button.up();
    await sleep(DEBOUNCE_MS + 50);
    const booted = plug.waitForBoot();
    expect((await askOnce(plug.port, { system: { reset: { delay: 0 } } })).system.reset.err_code).toBe(0);
    await booted;
    expect(state(plug)).toBe("setup");
    expect((await page(plug)).status).toBe(200);
    const info = (await askOnce(plug.port, { system: { get_sysinfo: {} } })).system.get_sysinfo;
    expect(info.mac).toBe(mac);
    expect(info.alias).toBe(plug.wifi.accessPoint!.ssid);
    plug.stop();
    // provisioned again, then started with --factory on the same state directory
    const again = await start({ stateDir: plug.dir });
    await askOnce(again.port, { netif: { set_stainfo: { ssid: "HomeNetwork", password: "right-password-1", key_type: 3 } } });
    await until(() => state(again) === "joined", "joined");
    again.stop();
    const fresh = await start({ stateDir: plug.dir, factory: true });
    expect(state(fresh)).toBe("setup");
    expect(fresh.plug.context.device.identity.mac).toBe(mac);
  });

  it("serves the setup page: networks, form, validation without echoing the password, redirects for captive-portal probes", async () => {
    const plug = await start({ factory: true });
    const home = await page(plug);
    expect(home.status).toBe(200);
    expect(home.text).toContain('value="3:HomeNetwork"');
    expect(home.text).toContain("Café &lt;Gäste&gt;"); // escaped
    for (const probe of ["/generate_204", "/hotspot-detect.html", "/connecttest.txt"]) {
      const r = await page(plug, probe);
      expect([r.status, r.location]).toEqual([302, `http://127.0.0.1:${plug.httpPort}/`]);
    }
    const post = (body: string) =>
      fetch(`http://127.0.0.1:${plug.httpPort}/join`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const refused = await post("s=3%3AHomeNetwork&p=short-1");
    expect(refused.status).toBe(400);
    const text = await refused.text();
    expect(text).toContain("Not sent: invalid argument: password must be 8-63 printable ASCII characters or 64 hex digits.");
    expect(text).not.toContain("short-1");
    expect((await (await post("s=other&o=&k=3&p=12345678")).text())).toContain("ssid must be 1-32 bytes");
    expect(state(plug)).toBe("setup");
    const accepted = await post("s=3%3AHomeNetwork&p=right-password-1");
    expect(await accepted.text()).toContain("Joining &ldquo;HomeNetwork&rdquo;");
    await until(() => state(plug) === "joined", "joined");
  });

  it("answers every name with the plug's address on its captive DNS, only while in setup", async () => {
    const plug = await start({ factory: true });
    const resolver = new Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([`127.0.0.1:${plug.dnsPort}`]);
    expect(await resolver.resolve4("connectivitycheck.gstatic.com")).toEqual(["127.0.0.1"]);
    await askOnce(plug.port, { netif: { set_stainfo: { ssid: "Café <Gäste>", key_type: 0 } } });
    await until(() => state(plug) === "joined", "joined");
    await expect(resolver.resolve4("connectivitycheck.gstatic.com")).rejects.toThrow();
  });

  // (127.0.4.2 as a client's own address needs Linux, where all of 127/8 is the machine's)
  it.runIf(process.platform === "linux")("in setup, a joined plug takes set_stainfo from its setup network's clients only", async () => {
    const plug = await start({ factory: true });
    await askOnce(plug.port, { netif: { set_stainfo: { ssid: "HomeNetwork", password: "right-password-1", key_type: 3 } } });
    await until(() => state(plug) === "joined", "joined");
    plug.plug.context.onboarding.openSetup("test"); // as a 5 s hold does (past the lock's window)
    const move = { netif: { set_stainfo: { ssid: "Café <Gäste>", key_type: 0 } } };
    expect((await askOnce(plug.port, move)).netif.set_stainfo.err_code).toBe(PRESENCE_REQUIRED.err_code);
    const lan = await fetch(`http://127.0.0.1:${plug.httpPort}/join`, { method: "POST", body: "s=0%3ACaf%C3%A9+%3CG%C3%A4ste%3E" });
    expect(lan.status).toBe(403);
    expect(state(plug)).toBe("setup");
    expect((await askOnce(plug.port, move, `${SETUP_CLIENT_PREFIX}2`)).netif.set_stainfo.err_code).toBe(0);
    await until(() => plug.wifi.saved()?.ssid === "Café <Gäste>", "moved");
  });

  it("reads --wifi files and says what is wrong with a bad one", () => {
    const dir = mkdtempSync(join(tmpdir(), "plug-wifi-"));
    dirs.push(dir);
    const file = join(dir, "nets.json");
    writeFileSync(file, JSON.stringify([{ ssid: "Home", key_type: 3, rssi: -40, password: "12345678" }, { ssid: "Open", key_type: 0 }]));
    expect(loadNetworks(file)).toEqual([
      { ssid: "Home", keyType: 3, rssi: -40, password: "12345678" },
      { ssid: "Open", keyType: 0, rssi: -50, password: undefined },
    ]);
    writeFileSync(file, JSON.stringify([{ ssid: "Home", key_type: 3 }]));
    expect(() => loadNetworks(file)).toThrow('network 1: a secured network needs its "password"');
    writeFileSync(file, JSON.stringify({ ssid: "Home" }));
    expect(() => loadNetworks(file)).toThrow("expected a JSON list of networks");
  });
});
