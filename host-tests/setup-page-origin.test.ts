// Issue 16 item 6: the setup page takes a post only from itself. A page on another site (or a name
// rebound to the plug's address) submitting a form to /join must not move the plug.

import { describe, expect, it } from "vitest";
import { fromPage, ownHost, parseRequest } from "../src/core/onboarding/portal.js";
import { RADIO_SWITCH_DELAY_MS } from "../src/core/timing.js";
import { FakeWifi, testPlug, type TestPlug } from "./support/fakes.js";

const FORM = "s=3%3AHomeNetwork&p=right-password";
const PAGE = "http://192.168.4.1";

function factoryPlug(): TestPlug {
  const wifi = new FakeWifi();
  wifi.forget();
  return testPlug({}, { wifi });
}

/** One HTTP request to the plug's setup page with these headers; the answer's text. */
function request(t: TestPlug, head: string, headers: string[], body = ""): string {
  const c = t.http.connect();
  const extra = body === "" ? [] : ["Content-Type: application/x-www-form-urlencoded", `Content-Length: ${body.length}`];
  c.handler.data(new TextEncoder().encode(`${head}\r\n${[...headers, ...extra].join("\r\n")}\r\n\r\n${body}`));
  expect(c.closed).toBe(true);
  return c.text;
}

const post = (t: TestPlug, headers: string[]) => request(t, "POST /join HTTP/1.1", headers, FORM);

describe("the setup page refuses cross-site posts", () => {
  it("refuses a form posted from another origin with a 403 page, and the plug stays in setup", () => {
    const t = factoryPlug();
    const answer = post(t, ["Host: 192.168.4.1", "Origin: http://evil.example"]);
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(answer).toContain("not sent from the plug's own setup page");
    expect(answer).toContain(`<a href="${PAGE}/">`);
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.plug.context.onboarding.state).toBe("setup");
    expect(t.wifi.attempts).toEqual([]);
  });

  it("refuses a same-origin post under a rebound name, a null origin, and a foreign Referer without an Origin", () => {
    const t = factoryPlug();
    for (const headers of [
      ["Host: rebind.example", "Origin: http://rebind.example"], // DNS rebinding: the attacker's name now points at the plug
      ["Host: 192.168.4.1", "Origin: null"], // a page that hides its origin
      ["Host: 192.168.4.1", "Referer: http://evil.example/form.html"],
      ["Host: 192.168.4.1", "Referer: http://192.168.4.1.evil.example/"],
      ["Host: 192.168.4.1", "Origin: https://192.168.4.1"],
      ["Host: 192.168.4.1", "Origin: http://192.168.4.1:8080"],
    ]) {
      expect(post(t, headers)).toMatch(/^HTTP\/1\.1 403 /);
    }
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.plug.context.onboarding.state).toBe("setup");
  });

  it("takes the page's own post (Origin, or Referer without it) and one from a client that sends neither", () => {
    for (const headers of [
      ["Host: 192.168.4.1", `Origin: ${PAGE}`, `Referer: ${PAGE}/`],
      ["Host: 192.168.4.1", `Referer: ${PAGE}/?`],
      ["Host: 192.168.4.1"], // curl
      [], // HTTP/1.0 without a Host
    ]) {
      const t = factoryPlug();
      expect(post(t, headers)).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      t.timers.advance(RADIO_SWITCH_DELAY_MS);
      expect(t.wifi.attempts.length).toBe(1);
    }
  });

  it("shows the page only under the plug's address: a probe or a rebound name is sent there, as a phone's captive portal is", () => {
    const t = factoryPlug();
    for (const host of ["rebind.example", "connectivitycheck.gstatic.com", "captive.apple.com"]) {
      expect(request(t, "GET / HTTP/1.1", [`Host: ${host}`])).toMatch(new RegExp(`^HTTP/1\\.1 302 Found\\r\\nLocation: ${PAGE}/\\r\\n`));
    }
    expect(request(t, "GET / HTTP/1.1", ["Host: 192.168.4.1"])).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe("the header checks", () => {
  it("an own host is an IP literal (with a port or not) or localhost, or no Host at all; a name is not", () => {
    for (const host of [undefined, "192.168.4.1", "127.0.0.1:8080", "10.0.0.254:80", "localhost", "localhost:8080", "[::1]", "[fe80::1]:8080"]) {
      expect([host, ownHost(host)]).toEqual([host, true]);
    }
    for (const host of ["", "evil.example", "192.168.4.1.nip.io", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.4:", "1.2.3.4:x", "localhost.evil", "[]", "[::1]x", "[::g]", "0x7f.0.0.1"]) {
      expect([host, ownHost(host)]).toEqual([host, false]);
    }
  });

  it("a post is from the page when its Origin is http://<Host>, or without one its Referer is under it", () => {
    const host = "192.168.4.1";
    const check = (origin?: string, referer?: string, h: string | undefined = host) => fromPage({ host: h, origin, referer });
    expect(check()).toBe(true);
    expect(check(`http://${host}`)).toBe(true);
    expect(check(undefined, `http://${host}/`)).toBe(true);
    expect(check(`http://${host}`, "http://evil.example/")).toBe(true); // the Origin decides
    expect(check("http://evil.example", `http://${host}/`)).toBe(false);
    expect(check(undefined, `http://${host}`)).toBe(false); // not a page under it
    expect(check(undefined, `http://${host}:8080/`)).toBe(false);
    expect(fromPage({ host: undefined, origin: `http://${host}`, referer: undefined })).toBe(false); // a browser's header without a Host
  });

  it("reads Host, Origin and Referer whatever their case; any of them twice makes the request malformed", () => {
    const parsed = parseRequest(new TextEncoder().encode("POST /join HTTP/1.1\r\nhOsT: 1.2.3.4\r\nORIGIN: http://1.2.3.4\r\nreferer:  http://1.2.3.4/ \r\n\r\n"));
    expect(parsed).toMatchObject({ host: "1.2.3.4", origin: "http://1.2.3.4", referer: "http://1.2.3.4/" });
    for (const twice of ["Host: a\r\nHost: b", "Origin: a\r\norigin: b", "Referer: a\r\nReferer: b"]) {
      expect(parseRequest(new TextEncoder().encode(`POST /join HTTP/1.1\r\n${twice}\r\n\r\n`))).toBeUndefined();
    }
  });
});
