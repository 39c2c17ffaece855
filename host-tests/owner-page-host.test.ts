// The owner's page over real sockets against the host's virtual plug (issue 19): on --http-port once
// joined, in legacy mode by default and in secure mode with --owner-page; the owner logs in, switches
// the relay, reads the status; a signed image sent over HTTP is taken, the plug restarts into it, a
// tampered one is refused and nothing restarts.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine, USAGE } from "../src/host/cli.js";
import { HOST_FIRMWARE_VERSION } from "../src/host/update.js";
import { VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import { HostPlugs } from "./support/host-plugs.js";
import { randomBytes } from "node:crypto";
import { createPlug } from "../src/core/plug.js";
import { HOST_LIMITS } from "../src/core/limits.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { klapConnect } from "../src/host/klap-client.js";
import { NodeTcpListener } from "../src/host/net.js";
import { FileStore } from "../src/host/store.js";
import { HostClock, HostTimers } from "../src/host/time.js";
import { VirtualWifi } from "../src/host/wifi.js";
import { fetchSend, OwnerClient } from "./support/owner-client.js";
import { signedImage, testKey } from "./support/update.js";
import { until } from "./support/until.js";

const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";
const KEY = testKey();
const host = new HostPlugs("plug-owner-host-");
afterEach(() => host.stopAll());

/** A plug that joined its network before, with the owner's credentials; its page's address. */
async function start(options: Partial<VirtualPlugOptions> = {}): Promise<{ plug: VirtualPlug; base: string; lines: string[] }> {
  const dir = host.stateDir();
  writeFileSync(join(dir, "saved-network.json"), JSON.stringify({ ssid: "HomeNetwork", password: "correct horse battery", keyType: 3 }), { mode: 0o600 });
  const lines: string[] = [];
  const plug = await VirtualPlug.start({
    port: 0, httpPort: 0, klapPort: 0, discoveryPort: 0, stateDir: dir, log: (l) => lines.push(l), rebootMs: 30,
    credentials: { username: USER, password: PASSWORD }, updateKey: KEY.raw, ...options,
  });
  host.plugs.push(plug);
  await until(() => plug.plug.context.onboarding.state === "joined", "joined");
  return { plug, base: `http://127.0.0.1:${plug.httpPort}`, lines };
}

describe("the owner's page on the host", () => {
  it("legacy mode: the owner logs in over HTTP, switches the relay, renames the plug, reads the version and the lock", async () => {
    const { plug, base, lines } = await start();
    expect(lines).toContain(`owner's page (once joined): ${base}/ (the owner's credentials)`);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>Plug owner</title>");
    const c = new OwnerClient(fetchSend(base));
    expect(await c.login(USER, PASSWORD)).toBe(200);
    expect(JSON.parse((await c.kasa({ system: { set_relay_state: { state: 1 } } })).text)).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    await until(() => plug.relay.on, "the relay on");
    await c.kasa({ system: { set_dev_alias: { alias: "Hall light" } } });
    expect(plug.plug.context.device.alias).toBe("Hall light");
    const status = JSON.parse((await c.status()).text);
    expect(status).toMatchObject({ lock: "locked", firmware: HOST_FIRMWARE_VERSION, update: "ready" });
    expect(await new OwnerClient(fetchSend(base)).login(USER, "wrong-password-123")).toBe(403);
  });

  it("secure mode: no page unless --owner-page; with it, the page on --http-port and KLAP on its own port", async () => {
    const quiet = await start({ mode: "secure" });
    await expect(fetch(`${quiet.base}/`)).rejects.toThrow();
    const { plug, base } = await start({ mode: "secure", ownerPage: true });
    const c = new OwnerClient(fetchSend(base));
    expect(await c.login(USER, PASSWORD)).toBe(200);
    await c.kasa({ system: { set_relay_state: { state: 1 } } });
    await until(() => plug.relay.on, "the relay on");
    expect(plug.klapPort).not.toBe(plug.httpPort);
  });

  it("takes a signed image over HTTP and restarts into it; refuses a tampered one with the reason, nothing restarted", async () => {
    const { plug, base } = await start();
    const c = new OwnerClient(fetchSend(base));
    expect(await c.login(USER, PASSWORD)).toBe(200);
    const image = signedImage(new Uint8Array(Buffer.from(JSON.stringify({ version: "2.0.0-owner" }))), KEY.privateKey, "2.0.0-owner");
    const tampered = image.slice();
    tampered[50] ^= 1;
    const refused = await c.update(tampered);
    expect([refused.status, JSON.parse(refused.text)]).toEqual([200, { status: "signature", detail: "a signature that does not verify with the owner's key" }]);
    expect(plug.restarts).toBe(0);
    const booted = plug.waitForBoot();
    const accepted = await c.update(image);
    expect([accepted.status, JSON.parse(accepted.text)]).toEqual([200, { status: "accepted", detail: "the plug restarts into it" }]);
    await booted;
    expect(plug.running.version).toBe("2.0.0-owner");
    expect(plug.plug.context.updater!.version).toBe("2.0.0-owner");
  });

  for (const mode of ["secure", "both"] as const) {
    it(`${mode}, one listener for KLAP and the page (as a device's port 80): python-kasa's KLAP and the owner's page both work on it`, async () => {
      const dir = host.stateDir();
      const wifi = new VirtualWifi(dir, () => {});
      wifi.save({ ssid: "HomeNetwork", password: "correct horse battery", keyType: 3 });
      const listener = await NodeTcpListener.open(0, "127.0.0.1");
      const timers = new HostTimers();
      const none = { listen() {}, send() {}, close() {} };
      const relay = { on: false, set(on: boolean) { relay.on = on; } };
      const plug = createPlug(
        {
          relay, led: { set() {} }, button: { listen() {} }, clock: new HostClock(), timers, store: new FileStore(dir), wifi,
          tcp: { listen() {}, close() {} }, udp: none, http: listener, dns: none, random: (n) => new Uint8Array(randomBytes(n)),
          restart: { restart() {} }, log() {}, crypto: nodeCrypto, klap: listener,
        },
        { mode, ownerPage: true, httpPort: listener.port, limits: HOST_LIMITS },
      );
      try {
        plug.start();
        await until(() => plug.context.onboarding.state === "joined", "joined");
        expect(plug.context.owner!.store(USER, PASSWORD)).toBeUndefined();
        const klap = await klapConnect("127.0.0.1", listener.port, USER, PASSWORD);
        const answer = await klap.request({ system: { set_relay_state: { state: 1 } } });
        expect(answer).toEqual({ system: { set_relay_state: { err_code: 0 } } });
        await until(() => relay.on, "the relay on (KLAP)");
        const base = `http://127.0.0.1:${listener.port}`;
        const c = new OwnerClient(fetchSend(base));
        expect(await c.login(USER, PASSWORD)).toBe(200);
        await c.kasa({ system: { set_relay_state: { state: 0 } } });
        await until(() => !relay.on, "the relay off (the owner's page)");
        // KLAP's session goes on, on its keep-alive connection
        expect((await klap.request({ system: { get_sysinfo: {} } })).system.get_sysinfo.relay_state).toBe(0);
        klap.close();
      } finally {
        plug.stop();
        timers.cancelAll();
        wifi.stopAttempt();
        listener.unbind();
      }
    });
  }

  it("--owner-page is on the command line and in --help", () => {
    expect(parseCommandLine(["--mode", "secure", "--owner-page", "--state-dir", host.stateDir()]).ownerPage).toBe(true);
    expect(parseCommandLine(["--state-dir", host.stateDir()]).ownerPage).toBeUndefined();
    expect(USAGE).toContain("--owner-page");
  });
});
