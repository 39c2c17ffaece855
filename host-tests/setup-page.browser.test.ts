// The setup page in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core)
// against the host target. Skips, saying so, where no Chromium is installed (CHROMIUM_PATH overrides).

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualPlug } from "../src/host/virtual-plug.js";
import { until } from "./support/until.js";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const executablePath = CANDIDATES.find((p) => p !== undefined && p !== "" && existsSync(p));
if (executablePath === undefined) console.warn("setup page browser test SKIPPED: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)");

describe.skipIf(executablePath === undefined)("setup page in headless Chromium", () => {
  let browser: Browser;
  let plug: VirtualPlug;
  let dir: string;
  /** Another site on loopback (another port: another origin), whose page posts a form to the plug. */
  let other: Server;
  let attack = "";

  beforeAll(async () => {
    // rebind.test resolves to the plug's address, as an attacker's name does after DNS rebinding
    browser = await chromium.launch({ executablePath, headless: true, timeout: 30_000, args: ["--host-resolver-rules=MAP rebind.test 127.0.0.1"] });
    other = createServer((_, res) => res.writeHead(200, { "Content-Type": "text/html" }).end(attack));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    dir = mkdtempSync(join(tmpdir(), "plug-browser-"));
    plug = await VirtualPlug.start({
      port: 0, httpPort: 0, stateDir: dir, factory: true, rebootMs: 50, log: () => {},
      networks: [
        { ssid: "HomeNetwork", keyType: 3, rssi: -45, password: "right-password-1" },
        { ssid: "Neighbour", keyType: 2, rssi: -80, password: "not-yours-123" },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    other?.close();
    plug?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A page that submits the join form with the right password to `action` as soon as it loads. */
  const autoSubmit = (action: string) =>
    `<!doctype html><form method="post" action="${action}"><input name="s" value="3:HomeNetwork"><input name="p" value="right-password-1"></form>` +
    "<script>document.forms[0].submit()</script>";

  it("refuses a form another site submits to /join: a 403 page, and the plug stays in setup", async () => {
    const page = await browser.newPage();
    attack = autoSubmit(`http://127.0.0.1:${plug.httpPort}/join`);
    const refused = page.waitForResponse((r) => r.url().endsWith("/join"));
    await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    expect((await refused).status()).toBe(403);
    expect(await page.locator("h1").textContent()).toBe("Refused");
    expect(plug.plug.context.onboarding.state).toBe("setup");
    expect(plug.wifi.saved()).toBeUndefined();
    await page.close();
  }, 30_000);

  it("refuses the same form from a rebound name (same origin as the page under that name)", async () => {
    const page = await browser.newPage();
    const origin = `http://rebind.test:${plug.httpPort}`;
    // the attacker's own server answered the name first; then the name pointed at the plug
    await page.route(`${origin}/evil.html`, (route) => route.fulfill({ contentType: "text/html", body: autoSubmit("/join") }));
    const refused = page.waitForResponse((r) => r.url() === `${origin}/join`);
    await page.goto(`${origin}/evil.html`);
    expect((await refused).status()).toBe(403);
    expect(plug.plug.context.onboarding.state).toBe("setup");
    // and the page itself, asked for under that name, is shown under the plug's address only
    await page.goto(`${origin}/`);
    expect(page.url()).toBe(`http://127.0.0.1:${plug.httpPort}/`);
    await page.close();
  }, 30_000);

  it("lists the networks, reports a wrong password after the plug comes back, and joins with the right one", async () => {
    const page = await browser.newPage();
    const base = `http://127.0.0.1:${plug.httpPort}`;
    // a phone's captive-portal probe lands on the page
    await page.goto(`${base}/generate_204`);
    expect(page.url()).toBe(`${base}/`);
    const labels = (await page.locator("label").allTextContents()).map((l) => l.trim());
    expect(labels.slice(0, 2)).toEqual(["HomeNetwork WPA2, -45 dBm", "Neighbour WPA, -80 dBm"]); // strongest first

    // refused in the page itself: nothing sent to the radio
    await page.getByLabel(/HomeNetwork/).check();
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Join" }).click();
    expect(await page.locator("#status").textContent()).toBe(
      "Not sent: invalid argument: password must be 8-63 printable ASCII characters or 64 hex digits.",
    );
    expect(await page.getByLabel("Password").inputValue()).toBe(""); // never echoed

    await page.getByLabel(/HomeNetwork/).check();
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Join" }).click();
    expect(await page.locator("h1").textContent()).toBe("Joining “HomeNetwork”");
    await until(() => plug.plug.context.onboarding.state === "joining", "joining");
    await until(() => plug.plug.context.onboarding.state === "setup", "back in setup");

    await page.goto(`${base}/`);
    expect(await page.locator("#status").textContent()).toBe("Last attempt: “HomeNetwork”: wrong password.");
    await page.getByLabel(/HomeNetwork/).check();
    await page.getByLabel("Password").fill("right-password-1");
    await page.getByRole("button", { name: "Join" }).click();
    await until(() => plug.plug.context.onboarding.state === "joined", "joined");
    expect(plug.wifi.saved()).toEqual({ ssid: "HomeNetwork", keyType: 3 });
    await page.close();
  }, 30_000);
});
