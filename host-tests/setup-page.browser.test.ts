// The setup page in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core)
// against the host target. Skips, saying so, where no Chromium is installed (CHROMIUM_PATH overrides).

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
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

  // The screens a person sees, on a phone-sized page. SETUP_PAGE_SCREENSHOTS=<dir> saves each as <dir>/page-*.png.
  const base = () => `http://127.0.0.1:${plug.httpPort}`;
  const phone = () => browser.newPage({ viewport: { width: 390, height: 844 } });
  const shot = async (page: Page, name: string) => {
    const dir = process.env.SETUP_PAGE_SCREENSHOTS;
    if (dir !== undefined && dir !== "") await page.screenshot({ path: join(dir, `page-${name}.png`), fullPage: true });
  };
  const box = async (page: Page, selector: string) => (await page.locator(selector).first().boundingBox())!;
  // (expressions run in the page: this project's TypeScript has no DOM types)
  const valid = (page: Page) => page.evaluate<boolean>("document.forms[0].checkValidity()");
  const noValidation = (page: Page) => page.evaluate("document.forms[0].noValidate = true"); // as a browser that does not check
  /** Computed style properties of the first element `selector` finds. */
  const css = (page: Page, selector: string, ...props: string[]) =>
    page.evaluate<string[]>(`(() => { const s = getComputedStyle(document.querySelector(${JSON.stringify(selector)})); return ${JSON.stringify(props)}.map((p) => s[p]); })()`);
  /** The Wi-Fi's password (the first: the owner's fields below have one too, issue 19). */
  const password = (page: Page) => page.getByLabel("Password", { exact: true }).first();

  it("first screen: a heading that says what is set up, a choice to make, and rows big enough for a finger", async () => {
    const page = await phone();
    // a phone's captive-portal probe lands on the page
    await page.goto(`${base()}/generate_204`);
    expect(page.url()).toBe(`${base()}/`);
    expect(await page.locator("h1").textContent()).toBe("Set up your HS100(US) plug");
    expect(await page.locator(".u").textContent()).toMatch(/^Its name: “TP-LINK_Smart Plug_[0-9A-F]{4}” · MAC (?:[0-9A-F]{2}:){5}[0-9A-F]{2}$/);
    expect(await page.getByRole("status").textContent()).toBe("Choose the network this plug should join, then type its password.");
    expect(await page.getByRole("alert").count()).toBe(0);
    const labels = (await page.locator("label.r").allTextContents()).map((l) => l.trim());
    expect(labels.slice(0, 3)).toEqual(["HomeNetwork WPA2, -45 dBm", "Neighbour WPA, -80 dBm", "Another network"]); // strongest first
    // touch targets: every choice a row of at least 44 px, its radio button at least 20 px, the button too
    for (const row of await page.locator("label.r:visible").all()) expect((await row.boundingBox())!.height).toBeGreaterThanOrEqual(44);
    expect((await box(page, "input[type=radio]")).width).toBeGreaterThanOrEqual(20);
    expect((await box(page, "button")).height).toBeGreaterThanOrEqual(44);
    expect((await box(page, "input[name=p]")).height).toBeGreaterThanOrEqual(44);
    // the browser checks before sending: a choice, then a password of 8-63 characters for a secured network
    expect(await valid(page)).toBe(false);
    await page.getByLabel(/HomeNetwork/).check();
    expect(await valid(page)).toBe(false); // a secured network needs its password
    await password(page).fill("short");
    expect(await valid(page)).toBe(false);
    await password(page).fill("long-enough");
    expect(await valid(page)).toBe(true);
    await password(page).fill("");
    await page.getByLabel("Another network").check();
    await page.getByLabel("Its security").selectOption("0");
    expect(await valid(page)).toBe(false); // another network needs its name
    await page.getByLabel("Network name").fill("Cafe");
    expect(await valid(page)).toBe(true); // an open one no password
    await shot(page, "1b-another-network");
    await page.goto(`${base()}/`);
    await shot(page, "1-first");
    await page.close();
  }, 30_000);

  it("shows the password on request, and hides it again", async () => {
    const page = await phone();
    await page.goto(`${base()}/`);
    await password(page).fill("right-password-1");
    expect(await password(page).getAttribute("type")).toBe("password");
    await page.getByLabel("Show password").check();
    expect(await password(page).getAttribute("type")).toBe("text");
    await shot(page, "2-show-password");
    await page.getByLabel("Show password").uncheck();
    expect(await password(page).getAttribute("type")).toBe("password");
    await page.close();
  }, 30_000);

  it("a form the plug refuses: an error that looks like one, the choice kept, the password not", async () => {
    const page = await phone();
    await page.goto(`${base()}/`);
    await page.getByLabel(/Neighbour/).check();
    await password(page).fill("short");
    await noValidation(page);
    await page.getByRole("button", { name: "Join" }).click();
    await page.waitForURL(`${base()}/join`);
    const alert = page.getByRole("alert");
    expect(await alert.textContent()).toBe("⚠ Not sent: invalid argument: password must be 8-63 printable ASCII characters or 64 hex digits.");
    expect(await css(page, "[role=alert]", "color", "borderLeftColor", "fontWeight")).toEqual(["rgb(139, 0, 0)", "rgb(204, 0, 0)", "700"]);
    expect(await css(page, "[role=alert]", "backgroundColor")).not.toEqual(await css(page, "body", "backgroundColor"));
    expect(await page.getByLabel(/Neighbour/).isChecked()).toBe(true);
    expect(await password(page).inputValue()).toBe(""); // never echoed
    await shot(page, "3-error");
    expect(plug.plug.context.onboarding.state).toBe("setup");
    await page.close();
  }, 30_000);

  it("dark mode: light text on a dark page, errors still red", async () => {
    const page = await phone();
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(`${base()}/`);
    expect(await css(page, "body", "backgroundColor", "color")).toEqual(["rgb(18, 18, 18)", "rgb(238, 238, 238)"]);
    expect(await css(page, "input[name=p]", "color")).toEqual(["rgb(238, 238, 238)"]); // the form's fields follow
    expect(await page.locator('meta[name="color-scheme"]').getAttribute("content")).toBe("light dark"); // (and the browser's own controls)
    await shot(page, "4-dark");
    await page.getByLabel(/HomeNetwork/).check();
    await noValidation(page);
    await page.getByRole("button", { name: "Join" }).click();
    await page.waitForURL(`${base()}/join`);
    expect(await css(page, "[role=alert]", "color")).toEqual(["rgb(255, 187, 187)"]);
    await shot(page, "5-dark-error");
    await page.close();
  }, 30_000);

  it("joining, a wrong password reported when the plug comes back with the network still chosen, then the right one", async () => {
    const page = await phone();
    await page.goto(`${base()}/`);
    await page.getByLabel(/HomeNetwork/).check();
    await password(page).fill("wrong-password");
    await page.getByRole("button", { name: "Join" }).click();
    await page.waitForURL(`${base()}/join`);
    // the final page: progress, what happens now, and where the plug is found next
    expect(await page.locator("h1").textContent()).toBe("Joining “HomeNetwork”…");
    expect(await page.locator("progress").isVisible()).toBe(true);
    const steps = (await page.locator("li").allTextContents()).join("\n");
    expect(steps).toMatch(/Now the setup network “TP-LINK_Smart Plug_[0-9A-F]{4}” closes: this page stops answering/);
    expect(steps).toContain("Within 31 seconds the plug joins “HomeNetwork”.");
    expect(steps).toMatch(/find it on “HomeNetwork” as “TP-LINK_Smart Plug_[0-9A-F]{4}” \(MAC (?:[0-9A-F]{2}:){5}[0-9A-F]{2}\)/);
    expect(steps).toContain("kasa discover");
    await shot(page, "6-joining");
    await until(() => plug.plug.context.onboarding.state === "joining", "joining");
    await until(() => plug.plug.context.onboarding.state === "setup", "back in setup");

    await page.goto(`${base()}/`);
    expect(await page.getByRole("alert").textContent()).toBe(
      "⚠ Could not join “HomeNetwork”: wrong password. Check the network and its password, then join again.",
    );
    expect(await page.getByLabel(/HomeNetwork/).isChecked()).toBe(true); // the choice kept
    expect(await password(page).inputValue()).toBe("");
    await shot(page, "7-wrong-password");
    await password(page).fill("right-password-1");
    await page.getByRole("button", { name: "Join" }).click();
    await page.waitForURL(`${base()}/join`);
    expect(await page.locator("h1").textContent()).toBe("Joining “HomeNetwork”…");
    await until(() => plug.plug.context.onboarding.state === "joined", "joined");
    expect(plug.wifi.saved()).toEqual({ ssid: "HomeNetwork", keyType: 3 });
    await page.close();
  }, 30_000);
});
