// The owner's page in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core)
// against the host target, as setup-page.browser.test.ts does. Skips, saying so, where no Chromium is
// installed (CHROMIUM_PATH overrides).

import { existsSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOST_FIRMWARE_VERSION } from "../src/host/update.js";
import { constantLoad } from "../src/core/energy/meter/simulate.js";
import { VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import { HostPlugs } from "./support/host-plugs.js";
import { fetchSend, hex, OwnerClient } from "./support/owner-client.js";
import { signedImage, testKey } from "./support/update.js";
import { until } from "./support/until.js";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const executablePath = CANDIDATES.find((p) => p !== undefined && p !== "" && existsSync(p));
if (executablePath === undefined) console.warn("owner page browser test SKIPPED: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)");

/** until() for a condition the page answers (a promise). */
async function shown(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";
const KEY = testKey();

describe.skipIf(executablePath === undefined)("the owner's page in headless Chromium", () => {
  const host = new HostPlugs("plug-owner-browser-");
  let browser: Browser;
  /** A plug with the owner's credentials, and one without. */
  let plug: VirtualPlug;
  let bare: VirtualPlug;
  let lines: string[];
  /** Another site on loopback (another port: another origin), whose page attacks the plug. */
  let other: Server;
  let attack = "";

  async function start(options: Partial<VirtualPlugOptions>, log: (l: string) => void = () => {}): Promise<VirtualPlug> {
    const dir = host.stateDir();
    writeFileSync(join(dir, "saved-network.json"), JSON.stringify({ ssid: "HomeNetwork", password: "correct horse battery", keyType: 3 }), { mode: 0o600 });
    const p = await VirtualPlug.start({ port: 0, httpPort: 0, stateDir: dir, log, rebootMs: 30, updateKey: KEY.raw, ...options });
    host.plugs.push(p);
    await until(() => p.plug.context.onboarding.state === "joined", "joined");
    return p;
  }

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, headless: true, timeout: 30_000 });
    other = createServer((_, res) => res.writeHead(200, { "Content-Type": "text/html" }).end(attack));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    lines = [];
    // a metering plug with a 60 W load: the page shows its power once the relay is on
    plug = await start({ credentials: { username: USER, password: PASSWORD }, model: "HS110", load: { profile: constantLoad(60) } }, (l) => lines.push(l));
    bare = await start({});
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    other?.close();
    host.stopAll();
  });

  const base = (p: VirtualPlug) => `http://127.0.0.1:${p.httpPort}`;

  /** What the pages' scripts threw or the browser refused (a CSP violation is logged as an error). */
  const errors: string[] = [];

  async function logIn(p: VirtualPlug, password = PASSWORD): Promise<Page> {
    const page = await browser.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error" && !/status of 40[39]/.test(m.text())) errors.push(m.text());
    });
    await page.goto(`${base(p)}/`);
    await page.getByLabel("Username").fill(USER);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    return page;
  }

  it("logs the owner in, switches the relay, renames the plug, turns its LED off and on, shows the rules, the power, the lock, the version and the log; keeps no password and sets no cookie", async () => {
    const rule = { name: "morning", enable: 1, wday: [0, 1, 1, 1, 1, 1, 0], repeat: 1, stime_opt: 0, smin: 420, sact: 1, etime_opt: -1, emin: 0, eact: -1, year: 0, month: 0, day: 0 };
    const client = new OwnerClient(fetchSend(base(plug)));
    expect(await client.login(USER, PASSWORD)).toBe(200);
    expect(JSON.parse((await client.kasa({ schedule: { add_rule: rule } })).text).schedule.add_rule.err_code).toBe(0);
    const page = await logIn(plug);
    await page.locator("#m").waitFor({ state: "visible" });
    expect(await page.getByLabel("Password").inputValue()).toBe("");
    await shown(async () => (await page.locator("#fw").textContent()) === HOST_FIRMWARE_VERSION, "the version shown");
    expect(await page.locator("#st").textContent()).toBe("off");
    expect(await page.locator("#lk").textContent()).toMatch(/^Locked: /);
    expect(await page.locator("#ru li").allTextContents()).toEqual(["morning: turn on at 07:00"]);
    expect(await page.locator("#lg").textContent()).toContain("owner page: logged in from 127.0.0.1");
    await page.getByRole("button", { name: "Switch on" }).click();
    await until(() => plug.relay.on, "the relay on");
    await shown(async () => (await page.locator("#st").textContent()) === "on", "the page shows it on");
    // the meter's power, once it has read it: the page asks again on Refresh
    await shown(async () => {
      await page.getByRole("button", { name: "Refresh" }).click();
      return /^(59|60|61)\.\d W$/.test((await page.locator("#pw").textContent()) ?? "");
    }, "the power shown", 10_000);
    expect(await page.locator("#en").textContent()).toMatch(/^\d+ Wh$/);
    await page.getByLabel("Name", { exact: true }).fill("Desk lamp");
    await page.getByRole("button", { name: "Rename" }).click();
    await until(() => plug.plug.context.device.alias === "Desk lamp", "renamed");
    await shown(async () => (await page.locator("h1").textContent()) === "Desk lamp", "the heading shows the name");
    await page.getByRole("button", { name: "Switch off" }).click();
    await until(() => !plug.relay.on, "the relay off");
    // the LED: the box says it is on; unticked, the plug's LED setting goes off, ticked, back on
    expect(await page.getByLabel("LED on").isChecked()).toBe(true);
    await page.getByLabel("LED on").uncheck();
    await until(() => plug.plug.context.device.ledOff === 1, "the LED off");
    await page.getByLabel("LED on").check();
    await until(() => plug.plug.context.device.ledOff === 0, "the LED on again");
    expect(await page.context().cookies()).toEqual([]);
    expect(errors).toEqual([]);
    expect(await page.evaluate<number>("sessionStorage.length + localStorage.length")).toBe(0);
    await page.close();
  }, 30_000);

  it("refuses a wrong password, and says how to set credentials on a plug that has none: nothing changes", async () => {
    const wrong = await logIn(plug, "not-the-password-1");
    await shown(async () => (await wrong.locator("#e").textContent()) === "Wrong username or password.", "the refusal shown");
    expect(await wrong.locator("#m").isHidden()).toBe(true);
    await wrong.close();
    const none = await logIn(bare);
    await shown(async () => /no owner credentials yet.*hold its button 5 s/.test((await none.locator("#e").textContent()) ?? ""), "the advice shown");
    expect(await none.locator("#m").isHidden()).toBe(true);
    await none.close();
    expect(plug.relay.on).toBe(false);
    expect(bare.relay.on).toBe(false);
  }, 30_000);

  it("refuses what a page on another site sends to /owner/kasa and /owner/update, even with a valid session and MAC: nothing changes", async () => {
    // the worst case: the attacker somehow has a logged-in session's key (it cannot: it is never sent)
    const owner = new OwnerClient(fetchSend(base(plug)));
    expect(await owner.login(USER, PASSWORD)).toBe(200);
    const on = JSON.stringify({ system: { set_relay_state: { state: 1 } } });
    // a text/plain form's body is `name=value`: made into that JSON
    const formName = '{"system":{"set_relay_state":{"state":1},"x":"';
    const formBody = `${formName}="}}`;
    const image = signedImage(new Uint8Array(Buffer.from('{"version":"6.6.6"}')), KEY.privateKey, "6.6.6");
    const kasaFetch = base(plug) + owner.next("kasa", new TextEncoder().encode(on));
    const kasaForm = base(plug) + owner.next("kasa", new TextEncoder().encode(formBody));
    const updateFetch = base(plug) + owner.next("update", new TextEncoder().encode(String(image.length)));
    const updateForm = base(plug) + owner.next("update", new TextEncoder().encode("4"));
    const refusals = () => lines.filter((l) => l === "owner page: refused a request sent from another site (nothing changed)").length;
    const before = refusals();
    attack =
      "<!doctype html><body>" +
      `<form id="a" method="post" action="${kasaForm}" enctype="text/plain" target="fa"><input name='${formName}' value='"}}'></form><iframe name="fa"></iframe>` +
      `<form id="b" method="post" action="${updateForm}" enctype="text/plain" target="fb"><input name="x" value="yz"></form><iframe name="fb"></iframe>` +
      `<script>fetch(${JSON.stringify(kasaFetch)},{method:"POST",mode:"no-cors",body:${JSON.stringify(on)}});` +
      `fetch(${JSON.stringify(updateFetch)},{method:"POST",mode:"no-cors",body:new Uint8Array([${Array.from(image).join(",")}])});` +
      'document.getElementById("a").submit();document.getElementById("b").submit()</script></body>';
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    await until(() => refusals() === before + 4, "four refusals");
    await page.close();
    expect(plug.relay.on).toBe(false);
    expect(plug.restarts).toBe(0);
    expect(plug.running.version).toBe(HOST_FIRMWARE_VERSION);
    expect(hex(owner.key!).length).toBe(64); // (the owner's own session goes on)
    expect((await owner.status()).status).toBe(200);
  }, 30_000);

  it("sends a signed firmware image chosen in the update form: the plug takes it and restarts into it", async () => {
    const page = await logIn(plug);
    await page.locator("#m").waitFor({ state: "visible" });
    await shown(async () => (await page.locator("#fu").textContent())?.includes("updates: send a signed image") === true, "the update state shown");
    const image = signedImage(new Uint8Array(Buffer.from('{"version":"3.0.0-browser"}')), KEY.privateKey, "3.0.0-browser");
    await page.getByLabel("Signed firmware image").setInputFiles({ name: "plug.kpfw", mimeType: "application/octet-stream", buffer: Buffer.from(image) });
    const booted = plug.waitForBoot();
    await page.getByRole("button", { name: "Update" }).click();
    await shown(async () => (await page.locator("#us").textContent()) === "Accepted: the plug restarts into the new firmware.", "accepted");
    await booted;
    expect(plug.running.version).toBe("3.0.0-browser");
    await page.close();
  }, 30_000);
});
