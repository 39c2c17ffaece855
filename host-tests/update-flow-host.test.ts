// A whole update on the host, over real sockets and the state directory's slot files: the virtual
// plug takes a signed image, restarts into it (the relay kept on although the power-on policy says
// off), runs it on trial until it has joined its network and answered a Kasa request on its port,
// and keeps it; an image that never confirms itself is rolled back by the restart its confirmation
// clock makes, and the plug runs the previous version again, relay still on. Every image goes up
// over HTTP through the owner's page, as the owner sends it.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OwnerClient, fetchSend } from "../src/host/owner-client.js";
import { FIRMWARE_STATE_FILE, HOST_FIRMWARE_VERSION } from "../src/host/update.js";
import { VirtualPlug } from "../src/host/virtual-plug.js";
import { HostPlugs } from "./support/host-plugs.js";
import { askOnce } from "./support/raw-client.js";
import { signedImage, testKey } from "./support/update.js";
import { until } from "./support/until.js";

const KEY = testKey();
const CONFIRM_MS = 600;
const OWNER = { username: "owner@example.com", password: "update flow password" };
const host = new HostPlugs("plug-update-flow-");
afterEach(() => host.stopAll());

function hostImage(version: string, confirms?: boolean): Uint8Array {
  const json = JSON.stringify(confirms === undefined ? { version } : { version, confirms });
  return signedImage(new Uint8Array(Buffer.from(json)), KEY.privateKey, version);
}

function bootData(dir: string): { boot: string; state: string } {
  return JSON.parse(readFileSync(join(dir, FIRMWARE_STATE_FILE), "utf8"));
}

async function start(lines: string[]): Promise<{ plug: VirtualPlug; dir: string }> {
  const dir = host.stateDir();
  // a plug that has joined its network before (its saved network, as the setup page leaves it)
  writeFileSync(join(dir, "saved-network.json"), JSON.stringify({ ssid: "HomeNetwork", password: "correct horse battery", keyType: 3 }), { mode: 0o600 });
  const plug = await VirtualPlug.start({
    port: 0, httpPort: 0, stateDir: dir, log: (l) => lines.push(l), rebootMs: 30, noTime: true,
    powerOn: "off", updateKey: KEY.raw, updateConfirmMs: CONFIRM_MS, credentials: OWNER,
  });
  host.plugs.push(plug);
  return { plug, dir };
}

/** The owner's upload on the owner's page (once the plug has joined): its answer. */
async function upload(plug: VirtualPlug, image: Uint8Array): Promise<{ status: number; text: string }> {
  await until(() => plug.plug.context.onboarding.state === "joined", "the plug joined");
  const owner = new OwnerClient(fetchSend(`http://127.0.0.1:${plug.httpPort}`));
  expect(await owner.login(OWNER.username, OWNER.password)).toBe(200);
  return owner.update(image);
}

/** An upload the plug takes, then the restart it causes. */
async function update(plug: VirtualPlug, image: Uint8Array): Promise<void> {
  const booted = plug.waitForBoot();
  const answer = await upload(plug, image);
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.text).status).toBe("accepted");
  await booted;
}

const relayOn = { system: { set_relay_state: { state: 1 } } };
const sysinfo = { system: { get_sysinfo: {} } };

describe("an update on the host, end to end", () => {
  it("runs the new version on trial, keeps it once it joined and served; the relay stays on throughout", async () => {
    const lines: string[] = [];
    const { plug, dir } = await start(lines);
    expect(plug.running.version).toBe(HOST_FIRMWARE_VERSION);
    await askOnce(plug.port, relayOn);
    await update(plug, hostImage("1.1.0-host"));
    expect(plug.running).toEqual({ slot: "a", version: "1.1.0-host", confirms: true });
    expect(plug.plug.context.updater!.version).toBe("1.1.0-host");
    expect(plug.relay.on).toBe(true); // kept, though the power-on policy is off
    expect(bootData(dir)).toMatchObject({ boot: "a", state: "trial" });
    await until(() => plug.plug.context.onboarding.state === "joined", "the plug joined");
    expect((await askOnce(plug.port, sysinfo)).system.get_sysinfo.relay_state).toBe(1);
    await until(() => bootData(dir).state === "valid", "the new image confirmed");
    expect(lines).toContain("new firmware confirmed");
    const restarts = plug.restarts;
    await new Promise((r) => setTimeout(r, CONFIRM_MS * 2));
    expect(plug.restarts).toBe(restarts); // no rollback
    expect(plug.running.version).toBe("1.1.0-host");
  });

  it("rolls back an image that never confirms itself: the previous version runs again, relay still on", async () => {
    const lines: string[] = [];
    const { plug, dir } = await start(lines);
    await askOnce(plug.port, relayOn);
    await update(plug, hostImage("1.2.0-host", false));
    expect(plug.running.version).toBe("1.2.0-host");
    const rolledBack = plug.waitForBoot();
    await askOnce(plug.port, sysinfo); // it serves, but this image cannot confirm itself
    await rolledBack;
    expect(plug.running.version).toBe(HOST_FIRMWARE_VERSION);
    expect(bootData(dir)).toMatchObject({ boot: "factory", state: "valid" });
    expect(plug.relay.on).toBe(true);
    expect(lines.some((l) => l.includes("firmware 1.2.0-host was not confirmed: rolled back to " + HOST_FIRMWARE_VERSION))).toBe(true);
  });

  it("refuses an image signed with another key: nothing is written, no restart", async () => {
    const { plug, dir } = await start([]);
    const other = testKey();
    const image = signedImage(new Uint8Array(Buffer.from('{"version":"9.9.9"}')), other.privateKey, "9.9.9");
    const answer = await upload(plug, image);
    expect(JSON.parse(answer.text)).toEqual({ status: "signature", detail: "a signature that does not verify with the owner's key" });
    const updater = plug.plug.context.updater!;
    await new Promise((res) => setTimeout(res, 100));
    expect(plug.restarts).toBe(0);
    expect(() => readFileSync(join(dir, "firmware-a.bin"))).toThrow();
    expect(updater.last).toBe("update refused: a signature that does not verify with the owner's key");
  });

  it("the host's factory version is package.json's, marked -host", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(HOST_FIRMWARE_VERSION).toBe(`${pkg.version}-host`);
  });
});
