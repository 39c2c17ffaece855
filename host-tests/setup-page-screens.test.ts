// Issue 17 item 6: the setup page screen by screen, as the plug writes it (the browser test shows the
// same screens in Chromium): what each says, what it keeps after an error, that it never echoes the
// password, the bytes of each, and that a long page is written as the socket has room (an ESP8266's
// send buffer holds about 2.9 KB; what does not fit would wait as copies in its 30 KB heap).

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MAX_PAGE_NETWORKS, SCRIPT, SCRIPT_HASH } from "../src/core/onboarding/portal.js";
import { RADIO_SWITCH_DELAY_MS } from "../src/core/timing.js";
import { FakeWifi, testPlug, type TestPlug } from "./support/fakes.js";
import { report } from "./support/report.js";
import type { WifiNetwork } from "../src/ports/ports.js";

/** The byte budget of a screen, headers included (docs/ONBOARDING.md, "The setup page"). */
const SCREEN_BUDGET = 6 * 1024;
/** ... and of the form with the most networks it lists, each with a 32-byte name full of characters to escape. */
const WORST_FORM_BUDGET = 12 * 1024;

const NETWORKS: WifiNetwork[] = [
  { ssid: "HomeNetwork", keyType: 3, rssi: -45 },
  { ssid: "Neighbour", keyType: 2, rssi: -80 },
  { ssid: "Café", keyType: 0, rssi: -70 },
];

function factoryPlug(networks = NETWORKS): TestPlug {
  const wifi = new FakeWifi();
  wifi.forget();
  wifi.networks = networks;
  // the right password is "right-password-1"; any other is refused by the network
  wifi.onJoin = (c) => (c?.password === "right-password-1" || c?.keyType === 0 ? ["connected"] : ["failed", "auth"]);
  return testPlug({}, { wifi });
}

/** One request to the page, its answer read as the client takes it (`room` bytes at a time). */
function request(t: TestPlug, text: string, room = Infinity) {
  const c = t.http.connect(undefined, room);
  c.handler.data(new TextEncoder().encode(text));
  for (let i = 0; i < 100_000 && !c.closed; i++) c.take(); // (bounded: a page of at most 100 KB at one byte a time)
  expect(c.closed).toBe(true);
  return c;
}
const get = (t: TestPlug, room = Infinity) => request(t, "GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n\r\n", room);
const post = (t: TestPlug, body: string, room = Infinity) =>
  request(
    t,
    "POST /join HTTP/1.1\r\nHost: 192.168.4.1\r\nOrigin: http://192.168.4.1\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
      `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`,
    room,
  );
const bytes = (text: string) => new TextEncoder().encode(text).length;
/** The status line's element. */
const status = (text: string) => /<p id="status"[^>]*>.*?<\/p>/.exec(text)?.[0] ?? "";

describe("the setup page's screens", () => {
  it("first screen: says what it sets up (the model, the plug's name and MAC), not the raw network name, and asks for a choice", () => {
    const t = factoryPlug();
    const { text } = get(t);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain("<h1>Set up your HS100(US) plug</h1>");
    expect(text).toContain("Its name: &ldquo;TP-LINK_Smart Plug_577E&rdquo; &middot; MAC 50:C7:BF:5B:57:7E");
    expect(status(text)).toBe('<p id="status" class="m" role="status">Choose the network this plug should join, then type its password.</p>');
    // the constraints a browser checks before sending, and the show-password box its script reveals
    expect(text).toContain('<input type="radio" name="s" value="other" required>');
    expect(text).toContain('<input type="text" name="o" maxlength="32" value=""');
    expect(text).toMatch(/<input type="password" name="p" id="p" minlength="8" maxlength="64" pattern="\[ -~\]\{8,63\}\|\[0-9A-Fa-f\]\{64\}"/);
    expect(text).toContain('<label class="r" hidden><input type="checkbox" id="v"> Show password</label>');
    expect(text).toContain('<label class=r><input type=radio name=s value="3:HomeNetwork"> HomeNetwork <small>WPA2, -45 dBm</small></label>');
    expect(text).toContain(`<script>${SCRIPT}</script></body></html>`);
  });

  it("the one script runs by its hash only: the policy names exactly the script the page carries", () => {
    const t = factoryPlug();
    const { text } = get(t);
    const hash = `sha256-${createHash("sha256").update(SCRIPT).digest("base64")}`;
    expect(SCRIPT_HASH).toBe(hash);
    expect(text).toContain(`Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; script-src '${hash}'; form-action 'self'\r\n`);
    expect(text).toContain("X-Frame-Options: DENY\r\n");
  });

  it("a refused form comes back as an error, with the chosen network still chosen and the password never shown", () => {
    const t = factoryPlug();
    const listed = post(t, "s=2%3ANeighbour&p=short-1").text;
    expect(listed).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(status(listed)).toBe(
      '<p id="status" class="m e" role="alert">&#9888; Not sent: invalid argument: password must be 8-63 printable ASCII characters or 64 hex digits.</p>',
    );
    expect(listed).toContain('value="2:Neighbour" checked>');
    expect(listed.match(/ checked/g)?.length).toBe(1);
    expect(listed).not.toContain("short-1");

    // another network, typed: its name and security are kept
    const typed = post(t, "s=other&o=Attic+%3CAP%3E&k=2&p=x").text;
    expect(typed).toContain('value="other" required checked>');
    expect(typed).toContain('name="o" maxlength="32" value="Attic &lt;AP&gt;"');
    expect(typed).toContain('<option value="2" selected>WPA</option>');
    expect(typed).not.toContain('value="x"');
    expect(t.wifi.attempts).toEqual([]);
    expect(t.plug.context.onboarding.state).toBe("setup");
  });

  it("joining screen: progress, what happens to the setup network, and where to find the plug (name, MAC, kasa discover) once joined", () => {
    const t = factoryPlug();
    const { text } = post(t, "s=3%3AHomeNetwork&p=right-password-1");
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain("<h1>Joining &ldquo;HomeNetwork&rdquo;&hellip;</h1><progress");
    expect(text).toContain("the setup network &ldquo;TP-LINK_Smart Plug_577E&rdquo; closes: this page stops answering");
    expect(text).toContain("<b>Within 31 seconds</b> the plug joins &ldquo;HomeNetwork&rdquo;");
    expect(text).toContain("as <b>&ldquo;TP-LINK_Smart Plug_577E&rdquo;</b> (MAC 50:C7:BF:5B:57:7E)");
    expect(text).toContain("<code>kasa discover</code>");
    expect(text).toContain("If it cannot join, its LED flashes three times and the setup network comes back");
    expect(text).not.toContain("right-password-1");
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.plug.context.onboarding.state).toBe("joined");
  });

  it("after a wrong password the plug comes back in setup: the page says so as an error and keeps the network chosen", () => {
    const t = factoryPlug();
    post(t, "s=3%3AHomeNetwork&p=wrong-password");
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.plug.context.onboarding.state).toBe("setup");
    const text = get(t).text;
    expect(status(text)).toBe(
      '<p id="status" class="m e" role="alert">&#9888; Could not join &ldquo;HomeNetwork&rdquo;: wrong password. Check the network and its password, then join again.</p>',
    );
    expect(text).toContain('value="3:HomeNetwork" checked>');
    expect(text).not.toContain("wrong-password");

    // a network no longer in range is shown under "Another network", its name filled in
    t.wifi.networks = [{ ssid: "Neighbour", keyType: 2, rssi: -80 }];
    t.timers.advance(60_000); // the next load scans again
    const gone = get(t).text;
    expect(gone).toContain('value="other" required checked>');
    expect(gone).toContain('name="o" maxlength="32" value="HomeNetwork"');
  });

  it("is written no faster than the socket takes it, and arrives whole: the same bytes, ending once with its last tag", () => {
    const many: WifiNetwork[] = [];
    for (let i = 0; i < MAX_PAGE_NETWORKS + 4; i++) many.push({ ssid: `Network "${i}" <${"x".repeat(20)}>`.slice(0, 32), keyType: 3, rssi: -40 - i });
    for (const [screen, answer] of [
      ["form", (t: TestPlug, room: number) => get(t, room)],
      ["error", (t: TestPlug, room: number) => post(t, "s=other&o=Attic&k=3&p=short", room)],
      ["joining", (t: TestPlug, room: number) => post(t, "s=3%3ANetwork+%22nope%22&p=right-password-1", room)],
    ] as const) {
      const whole = answer(factoryPlug(many), Infinity);
      expect([screen, whole.overRoom]).toEqual([screen, false]);
      for (const room of [1, 100, 536, 1460, 2920]) {
        const c = answer(factoryPlug(many), room);
        expect([screen, room, c.overRoom]).toEqual([screen, room, false]);
        expect([screen, room, c.text === whole.text]).toEqual([screen, room, true]);
        expect(c.text.indexOf("</html>")).toBe(c.text.length - 7);
        if (room < bytes(whole.text)) expect(c.writes).toBeGreaterThan(1);
      }
    }
  });

  it("the plug leaves the setup network only once the joining page is out (or its client is gone), never cutting it short", () => {
    const t = factoryPlug();
    const body = "s=3%3AHomeNetwork&p=right-password-1";
    const c = t.http.connect(undefined, 536);
    c.handler.data(new TextEncoder().encode(`POST /join HTTP/1.1\r\nHost: 192.168.4.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    expect([c.closed, t.plug.context.onboarding.state]).toEqual([false, "setup"]);
    for (let i = 0; i < 100 && !c.closed; i++) c.take();
    expect(c.text).toMatch(/<\/html>$/);
    expect(t.plug.context.onboarding.state).toBe("received");
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.plug.context.onboarding.state).toBe("joined");

    // a client gone halfway: the form it sent is acted on all the same
    const u = factoryPlug();
    const d = u.http.connect(undefined, 536);
    d.handler.data(new TextEncoder().encode(`POST /join HTTP/1.1\r\nHost: 192.168.4.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    d.handler.end();
    expect(u.plug.context.onboarding.state).toBe("received");
  });

  it("every screen is within its byte budget", () => {
    const sizes: Record<string, number> = {};
    sizes.first = bytes(get(factoryPlug()).text);
    sizes.none = bytes(get(factoryPlug([])).text);
    const full: WifiNetwork[] = [];
    for (let i = 0; i < MAX_PAGE_NETWORKS; i++) full.push({ ssid: `Network ${String(i).padStart(2, "0")} ${"x".repeat(21)}`, keyType: 3, rssi: -50 - i });
    expect(bytes(full[0].ssid)).toBe(32);
    sizes.full = bytes(get(factoryPlug(full)).text);
    sizes.error = bytes(post(factoryPlug(), "s=3%3AHomeNetwork&p=short").text);
    sizes.joining = bytes(post(factoryPlug(), "s=3%3AHomeNetwork&p=right-password-1").text);
    const refused = request(factoryPlug(), "POST /join HTTP/1.1\r\nHost: 192.168.4.1\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\n\r\n").text;
    expect(refused).toContain("<h1>Refused</h1>");
    sizes.refused = bytes(refused);
    for (const [screen, size] of Object.entries(sizes)) expect([screen, size <= SCREEN_BUDGET]).toEqual([screen, true]);
    // the longest form: as many networks as it lists, each name 32 bytes of '"' (6 bytes each once escaped)
    const worst: WifiNetwork[] = [];
    for (let i = 0; i < MAX_PAGE_NETWORKS; i++) worst.push({ ssid: '"'.repeat(30) + String(i).padStart(2, "0"), keyType: 3, rssi: -100 });
    const longest = get(factoryPlug(worst)).text;
    expect(longest.match(/name=s value="3:/g)?.length).toBe(MAX_PAGE_NETWORKS);
    expect(bytes(longest)).toBeLessThanOrEqual(WORST_FORM_BUDGET);
    sizes.worst = bytes(longest);
    report(`setup page bytes, headers included: ${Object.entries(sizes).map(([screen, size]) => `${screen} ${size}`).join(", ")}`);
  });
});
