// Issue 18: the setup page asks for the owner's KLAP credentials too, in the secure and both modes
// (optional fields under the Wi-Fi ones): kept as their auth hash only, refused when blank on one
// side, weak or TP-Link's defaults, never echoed; a legacy plug's page is as before.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nodeCrypto } from "../src/host/crypto.js";
import { RADIO_SWITCH_DELAY_MS } from "../src/core/timing.js";
import type { PlugOptions } from "../src/core/plug.js";
import { FakeWifi, testPlug, type TestPlug } from "./support/fakes.js";

const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";

/** A plug on its setup network; `crypto` false: a platform without the crypto port (an ESP8266 build without KLAP: legacy mode only). */
function factoryPlug(mode: PlugOptions["mode"], crypto = true): TestPlug {
  const wifi = new FakeWifi();
  wifi.forget();
  wifi.networks = [{ ssid: "HomeNetwork", keyType: 3, rssi: -45 }];
  wifi.onJoin = (c) => (c?.password === "right-password-1" ? ["connected"] : ["failed", "auth"]);
  return testPlug({ mode }, { wifi, crypto: crypto ? nodeCrypto : undefined });
}

function request(t: TestPlug, text: string) {
  const c = t.http.connect();
  c.handler.data(new TextEncoder().encode(text));
  for (let i = 0; i < 10_000 && !c.closed; i++) c.take();
  expect(c.closed).toBe(true);
  return c.text;
}
const get = (t: TestPlug) => request(t, "GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n\r\n");
const post = (t: TestPlug, body: string) =>
  request(
    t,
    "POST /join HTTP/1.1\r\nHost: 192.168.4.1\r\nOrigin: http://192.168.4.1\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
      `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`,
  );
const status = (text: string) => /<p id="status"[^>]*>.*?<\/p>/.exec(text)?.[0] ?? "";
const form = (user: string, password: string) => `s=3%3AHomeNetwork&p=right-password-1&u=${encodeURIComponent(user)}&w=${encodeURIComponent(password)}`;
const md5 = (b: Buffer) => createHash("md5").update(b).digest();
const authHashHex = (u: string, p: string) => md5(Buffer.concat([md5(Buffer.from(u)), md5(Buffer.from(p))])).toString("hex");

describe("the setup page's owner fields", () => {
  it("a KLAP plug's form has them, optional, after the Wi-Fi password and before Join; a legacy plug's has none without the crypto port", () => {
    const page = get(factoryPlug("secure"));
    expect(page).toContain('<label>Username <input type="text" name="u" maxlength="64"');
    expect(page).toContain('<label>Password <input type="password" name="w" minlength="10" maxlength="64" autocomplete="new-password"></label>');
    expect(page.indexOf('name="p"')).toBeLessThan(page.indexOf('name="u"'));
    expect(page.indexOf('name="w"')).toBeLessThan(page.indexOf('<button type="submit">Join</button>'));
    expect(page).toMatch(/<\/script><\/body><\/html>$/);
    const legacy = get(factoryPlug(undefined, false));
    expect(legacy).not.toContain('name="u"');
    expect(legacy).not.toContain('name="w"');
    expect(legacy).toContain('<button type="submit">Join</button>');
    expect(legacy).toMatch(/<\/script><\/body><\/html>$/);
  });

  it("given with the Wi-Fi network, they are kept as the auth hash, never the password, and the plug joins", () => {
    const t = factoryPlug("both");
    const page = post(t, form(USER, PASSWORD));
    expect(page).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(page).not.toContain(PASSWORD);
    expect(Buffer.from(t.plug.context.owner!.authHash()!).toString("hex")).toBe(authHashHex(USER, PASSWORD));
    expect([...t.store.values.values()].some((v) => v.includes(PASSWORD))).toBe(false);
    expect(t.logs.join("\n")).not.toContain(PASSWORD);
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.plug.context.onboarding.state).toBe("joined");
  });

  it("left empty, nothing changes; weak, default or half-given ones are refused with the reason, the password not shown, nothing joined", () => {
    const t = factoryPlug("secure");
    expect(post(t, "s=3%3AHomeNetwork&p=right-password-1&u=&w=")).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(t.plug.context.owner!.set()).toBe(false);

    const u = factoryPlug("secure");
    const cases: [string, string, string][] = [
      [USER, "pw-9chars", "password too short: at least 10 characters"],
      ["kasa@tp-link.net", "kasaSetup", "TP-Link&#39;s default credentials are refused: anyone could use them"],
      [USER, "", "a username and a password are both needed"],
      ["", PASSWORD, "a username and a password are both needed"],
    ];
    for (const [user, password, reason] of cases) {
      const page = post(u, form(user, password));
      expect(page).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(status(page)).toBe(`<p id="status" class="m e" role="alert">&#9888; Not sent: owner: ${reason}.</p>`);
      if (password !== "") expect(page).not.toContain(password);
    }
    expect(u.plug.context.owner!.set()).toBe(false);
    expect(u.wifi.attempts).toEqual([]);
    expect(u.plug.context.onboarding.state).toBe("setup");
  });

  it("a legacy plug without the crypto port ignores them", () => {
    const t = factoryPlug(undefined, false);
    expect(post(t, form(USER, "short"))).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(t.plug.context.owner).toBeUndefined();
  });
});
