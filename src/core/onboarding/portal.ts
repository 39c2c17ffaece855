// The setup page and its captive-portal DNS, up only while the setup network is: `GET /` shows the
// networks in range, a form and the outcome of the last attempt; `POST /join` takes the credentials
// (validated as netif.set_stainfo's); any other path redirects to the page, which is what makes
// phones open it by themselves. HTTP/1.1 with one request per connection, parsed on bytes, bounded.
// Its screens (the form, the joining page, the refusal) are constant text (in flash on a device)
// written in pieces as the socket has room, resuming when it is writable: a page costs the heap one
// piece at a time, however long it is; only the heading, the status line, the network rows and the
// choice kept after an error are made per request, each bounded. Its connections are bounded as
// the Kasa port's: at the bound the oldest one still waiting for its request makes room for a new
// client (a phone's captive-portal probe or a browser's unused preconnection must not keep the page
// from loading until the frame deadline). A DNS port that cannot be listened on leaves the page up without captive DNS.
//
// Cross-site posts are refused (a page on another site must not move the plug by submitting a form
// to /join): the page is served only under the plug's own address (any other Host is redirected to
// it, as captive-portal probes are), and a post is taken only when its Host is the plug's own and
// its Origin (or, without one, its Referer) is the page's. "Own" is an IP literal or localhost: a
// hostname can be rebound to the plug's address by its owner (DNS rebinding), an IP literal cannot.
// A request with none of these headers is not from a browser (curl, a script) and is taken.

import type {
  DatagramPort, LogPort, StreamHandler, StreamSocket, TcpListenerPort, TimerHandle, TimerPort, TimerTarget, WifiCredentials, WifiNetwork, WifiPort,
} from "../../ports/ports.js";
import { ConnectionSet, REFUSED, type Bounded } from "../protocol/connections.js";
import { errorText } from "../protocol/errors.js";
import { DEVICE_LIMITS, type Limits } from "../limits.js";
import { SCAN_TIMEOUT_MS } from "../modules/netif.js";
import { hexValue } from "../protocol/params.js";
import { JOIN_TIMEOUT_MS, RADIO_SWITCH_DELAY_MS } from "../timing.js";
import { utf8Decode, utf8Encode, utf8Length } from "../protocol/wire/utf8.js";
import { captiveAnswer, ipv4Bytes } from "./captive-dns.js";
import { checkCredentials } from "./credentials.js";
import { credentialsProblem, MIN_OWNER_PASSWORD, type KlapOwner } from "../klap/owner.js";
import { JOIN_RESULT, type Onboarding } from "./onboarding.js";

/** Largest request accepted (request line, headers and body); phones send well under 1 KB. */
export const MAX_HTTP_REQUEST_BYTES = 2048;
/**
 * Largest form body: the Wi-Fi's three fields of at most 64 characters and, in the KLAP modes, the
 * owner's two of at most 64 (OWNER_FIELD_CHARS), percent-encoded.
 */
export const MAX_FORM_BYTES = 1024;
/** The owner's username and password fields' length on the page (KLAP modes). */
export const OWNER_FIELD_CHARS = 64;
/** Most networks listed on the page (strongest first, each name once). */
export const MAX_PAGE_NETWORKS = 16;
/** A network name longer than this (in UTF-8) is not shown again after an error (32 is the most a valid one has). */
export const MAX_KEPT_NAME_BYTES = 64;
/** A scan older than this is repeated when the page is loaded. */
export const SCAN_MAX_AGE_MS = 20000;

export const CRLF2: readonly number[] = Object.freeze([13, 10, 13, 10]);
const CRLF: readonly number[] = Object.freeze([13, 10]);

// The page's constant text (in flash on a device), in pieces of at most about 900 bytes: each is
// encoded and written as the socket has room (HttpConnection.pump), so the page's size costs no RAM.
const HEAD_A =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
  '<meta name="color-scheme" content="light dark"><title>Plug setup</title><style>' +
  "body{font:17px/1.4 system-ui,sans-serif;margin:0 auto;max-width:32em;padding:.5em 1em 2em;background:#fff;color:#111}" +
  "h1{font-size:1.5em;margin:.5em 0 .2em}.u,small{color:#555}.u{margin:0 0 1em}fieldset{border:0;padding:0;margin:0}legend{font-weight:bold;margin:.6em 0 .2em}" +
  "label{display:block;margin:.6em 0}[hidden]{display:none!important}.o{margin-left:2.2em}form:has([value=other]:not(:checked)) .o{display:none}" +
  ".r{display:flex;align-items:center;gap:.7em;min-height:48px;padding:0 .7em;border:1px solid #bbb;border-radius:8px;margin:.4em 0}" +
  ".r input{width:1.5em;height:1.5em;margin:0;flex:none}.r small{margin-left:auto}.r:has(:checked){border-color:#05c;background:#eaf2ff}";
const HEAD_B =
  "input[type=text],input[type=password],select{font:inherit;min-height:48px;padding:0 .6em;width:100%;box-sizing:border-box;border:1px solid #888;border-radius:6px;background:inherit;color:inherit}" +
  "a{color:#05c}button{font:inherit;font-weight:bold;width:100%;min-height:52px;margin:1em 0 .5em;border:0;border-radius:8px;background:#05c;color:#fff}" +
  ".m{padding:.7em .9em;border-radius:8px;border-left:6px solid #789;background:#eef1f5}.e{border-color:#c00;background:#fde7e7;color:#8b0000;font-weight:bold}" +
  "progress{width:100%;height:1.2em}li{margin:.6em 0}" +
  "@media(prefers-color-scheme:dark){body{background:#121212;color:#eee}.u,small{color:#aaa}.r{border-color:#555}.r:has(:checked){border-color:#6ae;background:#15263f}" +
  "a{color:#6ae}button{background:#26d}.m{background:#1f252d}.e{background:#3b1111;color:#fbb;border-color:#f55}}" +
  "</style></head><body>";
const FORM_START = '<form method="post" action="/join"><fieldset><legend>Wi-Fi network</legend>';
const FORM_END =
  '<label>Password <input type="password" name="p" id="p" minlength="8" maxlength="64" pattern="[ -~]{8,63}|[0-9A-Fa-f]{64}" ' +
  'title="8-63 characters, or 64 hex digits" autocomplete="off" autocapitalize="off" spellcheck="false"></label>' +
  '<label class="r" hidden><input type="checkbox" id="v"> Show password</label>' +
  "<small>8-63 characters (or 64 hex digits). Leave it empty for an open network.</small>";
/**
 * The owner's credentials, optional (their hash is kept; cnCloud.bind can set them later in the KLAP
 * modes): the legend, then what they guard in this mode (OWNER_GUARDS), then the two fields.
 */
const OWNER_LEGEND = "<fieldset><legend>Owner (optional)</legend><small>";
/** What the owner's credentials guard, by SetupPortal's `ownerUse`: KLAP, the owner's page, or both. */
const OWNER_GUARDS: readonly string[] = Object.freeze([
  "",
  "The username and password Home Assistant or python-kasa will ask for: only clients that know them control this plug. ",
  "The username and password of this plug's owner's page (on its address on your network, once joined). ",
  "The username and password Home Assistant or python-kasa will ask for, and this plug's owner's page asks for (on its address on your network, once joined): " +
    "only clients that know them control this plug. ",
]);
const OWNER_INPUTS =
  "Only a hash of them is kept.</small>" +
  `<label>Username <input type="text" name="u" maxlength="${OWNER_FIELD_CHARS}" autocomplete="off" autocapitalize="off" spellcheck="false"></label>` +
  `<label>Password <input type="password" name="w" minlength="${MIN_OWNER_PASSWORD}" maxlength="${OWNER_FIELD_CHARS}" autocomplete="new-password"></label>` +
  `<small>At least ${MIN_OWNER_PASSWORD} characters, not the username. Leave both empty to keep what is set.</small></fieldset>`;
const FORM_BUTTON =
  '<button type="submit">Join</button></form><p><a href="/">Scan again</a></p>' +
  "<p><small>Your password goes to this plug only and is never shown again. WEP networks are not supported.</small></p>";
/**
 * The page's one script, allowed by its hash (SCRIPT_HASH, in the Content-Security-Policy): the
 * show-password box, and the fields a choice needs marked required (a password for a secured
 * network, a name for another network). The page works without it.
 */
export const SCRIPT =
  'var f=document.forms[0],p=f.p,v=document.getElementById("v");v.parentNode.hidden=false;' +
  'v.onchange=function(){p.type=v.checked?"text":"password"};' +
  'function u(){var s=f.s.value,o=s=="other";f.o.required=o;p.required=o?f.k.value!="0":s!=""&&s[0]!="0"}' +
  'f.onchange=u;f.o.oninput=function(){f.s.value="other";u()};u()';
/** SCRIPT's hash, as the Content-Security-Policy names it (host-tests/setup-page-screens.test.ts checks it). */
export const SCRIPT_HASH = "sha256-7Mo3xodK5Gz/uBQcsizBQ2NJeU7yr8sKTKbPk5CiuAE=";
const PAGE_END = `<script>${SCRIPT}</script></body></html>`;
const JOINING_END =
  "<p class=\"m\">If it cannot join, its LED flashes three times and the setup network comes back: connect to it again " +
  "and reload this page to see why. The network you chose is kept; type its password again.</p></body></html>";
const REFUSED_CROSS_SITE =
  '<h1>Refused</h1><p class="m e" role="alert">&#9888; This form was not sent from the plug\'s own setup page, so nothing was changed.</p>' +
  "<p>If you are setting up this plug, open its page and send the form from there: ";

/** The screens (Answer.screen). */
const FORM = 0;
const JOINING = 1;
const REFUSED_PAGE = 2;

const KEY_NAMES = Object.freeze(["open", "WEP", "WPA", "WPA2"]);

interface Request {
  method: string;
  path: string;
  body: Uint8Array;
  /** The Host, Origin and Referer headers, when sent (each at most once). */
  host: string | undefined;
  origin: string | undefined;
  referer: string | undefined;
}

export interface PortalPorts {
  wifi: WifiPort;
  timers: TimerPort;
  log: LogPort;
  /** Monotonic milliseconds (a function: the page's connections call it as their own). */
  now: () => number;
}

export class SetupPortal implements TimerTarget {
  private http: TcpListenerPort | null = null;
  private dns: DatagramPort | null = null;
  private networks: readonly WifiNetwork[] = NO_NETWORKS;
  private scannedAt = -1;
  /** Connections whose page waits for the scan going on; null when none is. */
  private waiting: HttpConnection[] | null = null;
  private scanTimer: TimerHandle | undefined;
  /** The page's connections: as many and as slow as the Kasa port's (limits.ts), the oldest making room for a new one. */
  readonly connections: ConnectionSet<HttpConnection>;

  constructor(
    private readonly ports: PortalPorts,
    private readonly onboarding: Onboarding,
    /** The plug: its model heads the page, its name and MAC say where to find it once joined. */
    private readonly device: PortalDevice,
    /** The port the page is served on (80 on a device). */
    private readonly httpPort = 80,
    readonly limits: Limits = DEVICE_LIMITS,
    /** The owner's credentials (KLAP's in the secure and both modes, the owner's page's): the form asks for them too. */
    private readonly owner?: KlapOwner,
    /** What they guard, for the form's text: 1 KLAP, 2 the owner's page, 3 both (OWNER_GUARDS). */
    ownerUse = 1,
  ) {
    this.connections = new ConnectionSet<HttpConnection>(ports.timers, ports.now, limits.maxConnections);
    if (owner !== undefined) (this as unknown as { ownerUse?: number }).ownerUse = ownerUse; // (no slot without an owner: an ESP8266 without crypto)
  }

  /** OWNER_GUARDS' index for the form (set only with an owner). */
  declare private readonly ownerUse?: number;

  now(): number {
    return this.ports.now();
  }

  /** Where the page is: http://<address on the setup network>/ */
  url(): string {
    return `http://${this.host()}/`;
  }

  /** The page's host as a browser sends it in Host: the address on the setup network, and the port unless 80. */
  private host(): string {
    const address = this.ports.wifi.accessPointAddress();
    return this.httpPort === 80 ? address : `${address}:${this.httpPort}`;
  }

  get isOpen(): boolean {
    return this.http !== null;
  }

  open(http: TcpListenerPort, dns: DatagramPort): void {
    if (this.http !== null) return;
    this.http = http;
    this.dns = dns;
    http.listen((socket, address) => {
      const setupClient = this.onboarding.clientSign(address); // (a client sign: the page counts)
      if (!this.connections.makeRoom()) {
        socket.close();
        return REFUSED;
      }
      const connection = new HttpConnection(socket, this, setupClient);
      this.connections.admit(connection);
      return connection;
    });
    try {
      dns.listen((bytes, address, port) => this.query(bytes, address, port));
    } catch (e) {
      this.ports.log(`dns: ${errorText(e)}; captive portal off (the page is still at its address)`);
    }
    this.ports.log(`setup page at ${this.url()}`);
  }

  close(): void {
    this.connections.clear();
    this.http?.close();
    this.dns?.close();
    this.http = this.dns = null;
    this.scannedAt = -1;
    this.ports.timers.cancel(this.scanTimer);
    this.scanTimer = undefined;
    this.waiting = null;
  }

  private query(bytes: Uint8Array, address: string, port: number): void {
    if (port === 0) return; // forged: no answer can go to port 0
    const ip = ipv4Bytes(this.ports.wifi.accessPointAddress());
    const answer = ip === undefined ? undefined : captiveAnswer(bytes, ip);
    if (answer === undefined) return;
    this.onboarding.clientSign(address); // a phone on the setup network looking things up is a client sign
    this.dns?.send(answer, address, port);
  }

  /**
   * Answers one complete request: a screen the connection writes as its socket has room, or a short
   * answer sent at once. `setupClient`: from a client of the setup network (Onboarding.clientSign).
   */
  serve(request: Request, socket: StreamSocket, setupClient: boolean, connection: HttpConnection): void {
    if (setupClient) this.onboarding.activity();
    const path = request.path;
    const own = ownHost(request.host);
    if (request.method === "GET" && own && (path === "/" || path.startsWith("/?"))) {
      const last = this.onboarding.lastAttempt();
      if (last === undefined) return this.form(connection, 200, "Choose the network this plug should join, then type its password.", false, "", -1, "");
      const failed = last.result !== JOIN_RESULT.joined;
      const name = escapeHtml(last.ssid);
      return failed
        ? this.form(connection, 200, `&#9888; Could not join &ldquo;${name}&rdquo;: ${escapeHtml(last.result)}. Check the network and its password, then join again.`, true, last.ssid, -1, "")
        : this.form(connection, 200, `Last attempt: &ldquo;${name}&rdquo;: ${escapeHtml(last.result)}.`, false, "", -1, "");
    }
    if (request.method === "POST" && path === "/join") {
      // Cross-site posts are refused everywhere; a provisioned plug's page is reachable from its home
      // network too (a device listens on every interface): moving it from there needs its button and
      // netif.set_stainfo, not this form.
      if (!own || !fromPage(request)) {
        this.ports.log("setup page: refused a form sent from another site (nothing changed)");
        return connection.start(new Answer(REFUSED_PAGE, 403, "", false, "", -1, ""));
      }
      if (setupClient || !this.onboarding.provisioned()) return this.join(request.body, connection);
      send(socket, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (request.method === "GET" || request.method === "HEAD") {
      // Captive-portal probes (generate_204, hotspot-detect.html, ...), every other path, and the
      // page asked for under a name: the page is shown under the plug's address, where its form is taken.
      send(socket, `HTTP/1.1 302 Found\r\nLocation: ${this.url()}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    } else {
      send(socket, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, POST\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    socket.close();
  }

  /** The form screen, once a scan no older than SCAN_MAX_AGE_MS is known (or SCAN_TIMEOUT_MS passed). */
  private form(connection: HttpConnection, code: number, status: string, error: boolean, ssid: string, keyType: number, other: string): void {
    const answer = new Answer(FORM, code, status, error, ssid, keyType, other);
    const now = this.ports.now();
    if (this.scannedAt >= 0 && now - this.scannedAt < SCAN_MAX_AGE_MS) {
      answer.listed(this.networks);
      connection.start(answer);
      return;
    }
    answer.waiting = true;
    connection.start(answer);
    if (this.waiting !== null) {
      this.waiting.push(connection);
      return;
    }
    this.waiting = [connection];
    this.scanTimer = this.ports.timers.after(SCAN_TIMEOUT_MS, this);
    this.ports.wifi.scan((networks) => this.scanned(networks)); // (a radio may answer at once, from its cache)
  }

  private scanned(networks: WifiNetwork[]): void {
    this.networks = networks.slice().sort(byStrength);
    this.scannedAt = this.ports.now();
    this.fired();
  }

  /** The scan's time is up (its timer), or it is done: the pages waiting for it are written with what is known. */
  fired(): void {
    this.ports.timers.cancel(this.scanTimer);
    this.scanTimer = undefined;
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting === null) return;
    for (let i = 0; i < waiting.length; i++) waiting[i].networksKnown(this.networks);
  }

  private join(body: Uint8Array, connection: HttpConnection): void {
    const form = parseForm(body);
    const choice = form.s ?? "";
    let ssid: string | undefined;
    let keyType: number;
    const other = choice === "other" || choice === "";
    if (other) {
      ssid = form.o;
      keyType = Number(form.k ?? "3");
    } else {
      // "<key_type>:<ssid>", as the list wrote it
      ssid = choice.slice(2);
      keyType = Number(choice.slice(0, 1));
    }
    const checked = checkCredentials(ssid, form.p ?? "", keyType);
    const owner = this.owner;
    // the owner's credentials, when given (both fields empty: nothing changes); never shown again
    const ownerGiven = owner !== undefined && ((form.u ?? "") !== "" || (form.w ?? "") !== "");
    const ownerProblem = checked.ok && ownerGiven ? credentialsProblem(form.u, form.w) : undefined;
    if (!checked.ok || ownerProblem !== undefined) {
      // the choice is shown again (a name of at most MAX_KEPT_NAME_BYTES; never the password)
      const kept = ssid !== undefined && utf8Length(ssid) <= MAX_KEPT_NAME_BYTES ? ssid : "";
      const key = keyType === 0 || keyType === 2 || keyType === 3 ? keyType : 3;
      const status = `&#9888; Not sent: ${escapeHtml(checked.ok ? `owner: ${ownerProblem}` : checked.error)}.`;
      return other ? this.form(connection, 400, status, true, "", key, kept) : this.form(connection, 400, status, true, kept, key, "");
    }
    if (ownerGiven) {
      const failed = owner.store(form.u!, form.w!);
      if (failed !== undefined) return this.form(connection, 500, `&#9888; Not sent: owner: ${escapeHtml(failed)}.`, true, "", -1, "");
      this.ports.log("the owner's credentials set on the setup page");
    }
    // The plug leaves the setup network once this page is out (the connection hands the credentials
    // over then, or when its client goes): a page cut short would leave the phone with nothing.
    const answer = new Answer(JOINING, 200, escapeHtml(checked.credentials.ssid), false, "", -1, "");
    answer.credentials = checked.credentials;
    connection.start(answer);
  }

  /** The joining page is out (or its client gone): the plug tries the credentials. */
  joinWith(credentials: WifiCredentials): void {
    this.onboarding.received(credentials);
  }

  /** The next piece of `a`'s screen, or null at its end. */
  piece(a: Answer): string | null {
    const step = a.step++;
    if (step === 0) return header(a.code);
    if (step === 1) return HEAD_A;
    if (step === 2) return HEAD_B;
    if (a.screen === REFUSED_PAGE) {
      if (step === 3) return REFUSED_CROSS_SITE;
      const url = escapeHtml(this.url());
      return step === 4 ? `<a href="${url}">${url}</a></p></body></html>` : null;
    }
    const device = this.device;
    if (a.screen === JOINING) {
      if (step === 3) {
        return (
          `<h1>Joining &ldquo;${a.text}&rdquo;&hellip;</h1><progress aria-label="Joining"></progress><ol>` +
          `<li><b>Now</b> the setup network &ldquo;${escapeHtml(this.onboarding.setupSsid)}&rdquo; closes: this page stops answering ` +
          "and your phone goes back to its usual network. That is expected.</li>"
        );
      }
      if (step === 4) {
        return (
          `<li><b>Within ${(RADIO_SWITCH_DELAY_MS + JOIN_TIMEOUT_MS) / 1000} seconds</b> the plug joins &ldquo;${a.text}&rdquo;. ` +
          "Its LED flickers while it joins, then shows the relay (lit when on).</li>" +
          `<li><b>Then</b> find it on &ldquo;${a.text}&rdquo; as <b>&ldquo;${escapeHtml(device.alias)}&rdquo;</b> (MAC ${device.identity.mac}) ` +
          "with the Kasa app, Home Assistant's TP-Link integration, or <code>kasa discover</code> " +
          "(<code>pip install python-kasa</code>) on a computer on that network. Its address there comes from your router.</li></ol>"
        );
      }
      return step === 5 ? JOINING_END : null;
    }
    // FORM
    if (step === 3) {
      return `<h1>Set up your ${escapeHtml(device.personality.model)} plug</h1><p class="u">Its name: &ldquo;${escapeHtml(device.alias)}&rdquo; &middot; MAC ${device.identity.mac}</p>`;
    }
    if (step === 4) return a.error ? `<p id="status" class="m e" role="alert">${a.text}</p>` : `<p id="status" class="m" role="status">${a.text}</p>`;
    if (step === 5) return FORM_START;
    if (step === 6) {
      // one network a piece, until the list is done
      const networks = a.networks;
      while (a.row < networks.length && a.shown < MAX_PAGE_NETWORKS) {
        const i = a.row++;
        if (!listedFirst(networks, i)) continue;
        a.shown++;
        a.step = 6;
        const n = networks[i];
        const name = escapeHtml(n.ssid);
        const chosen = i === a.chosenRow ? " checked" : "";
        return `<label class=r><input type=radio name=s value="${n.keyType}:${name}"${chosen}> ${name} <small>${KEY_NAMES[n.keyType]}, ${n.rssi} dBm</small></label>`;
      }
      if (a.shown === 0) return "<p><small>No networks found yet.</small></p>";
      a.step = 8;
      return otherNetwork(a);
    }
    if (step === 7) return otherNetwork(a);
    if (step === 8) return FORM_END;
    if (step === 9 && this.owner !== undefined) return OWNER_LEGEND + OWNER_GUARDS[this.ownerUse ?? 1] + OWNER_INPUTS;
    if (step === 9 || step === 10) {
      a.step = 11;
      return FORM_BUTTON;
    }
    return step === 11 ? PAGE_END : null;
  }
}

const NO_NETWORKS: readonly WifiNetwork[] = Object.freeze([]);

/** The form's last choice, "Another network", with the name typed and its security (kept after an error). */
function otherNetwork(a: Answer): string {
  const k = a.otherChosen && a.keyType >= 0 ? a.keyType : 3;
  return (
    `<label class="r"><input type="radio" name="s" value="other" required${a.otherChosen ? " checked" : ""}> Another network</label>` +
    `<label class="o">Network name <input type="text" name="o" maxlength="32" value="${escapeHtml(a.other)}" autocomplete="off" autocapitalize="off"></label>` +
    `<label class="o">Its security <select name="k"><option value="3"${k === 3 ? " selected" : ""}>WPA2</option><option value="2"${k === 2 ? " selected" : ""}>WPA</option>` +
    `<option value="0"${k === 0 ? " selected" : ""}>None (open)</option></select></label></fieldset>`
  );
}

function byStrength(a: WifiNetwork, b: WifiNetwork): number {
  return b.rssi - a.rssi;
}

/** Whether networks[i] is listed on the page: named, not WEP, and the first of its name (strongest first). */
function listedFirst(networks: readonly WifiNetwork[], i: number): boolean {
  const n = networks[i];
  if (n.ssid === "" || n.keyType === 1) return false;
  for (let j = 0; j < i; j++) {
    const m = networks[j];
    if (m.ssid === n.ssid && m.keyType !== 1) return false;
  }
  return true;
}

/**
 * One screen being written: which, where it is, and the little of it that is not constant (the
 * status line, the choice to show again). Made per request, dropped when written.
 */
export class Answer {
  step = 0;
  /** The piece being written, and how many of its bytes are out. */
  current: string | null = null;
  sent = 0;
  /** FORM: the scanned networks, the next one to look at and how many are listed so far. */
  networks: readonly WifiNetwork[] = NO_NETWORKS;
  row = 0;
  shown = 0;
  /** FORM: the index of the network shown chosen, -1 for none. */
  chosenRow = -1;
  /** JOINING: the credentials, handed to onboarding once the page is out. */
  credentials: WifiCredentials | undefined = undefined;
  /** FORM: "Another network" is the choice shown. */
  otherChosen = false;
  /** FORM: waiting for a scan. */
  waiting = false;

  constructor(
    readonly screen: number,
    readonly code: number,
    /** FORM: the status line (HTML); JOINING: the network's name (HTML). */
    readonly text: string,
    /** FORM: the status line is an error. */
    readonly error: boolean,
    /** FORM: the network to show chosen (its name), "" for none; shown under "Another network" when not listed. */
    private readonly ssid: string,
    /** FORM: its security (key_type), -1 for whichever is listed. */
    readonly keyType: number,
    /** FORM: the name typed under "Another network". */
    public other: string,
  ) {}

  /** The networks to list are known: the choice to show again is found among them. */
  listed(networks: readonly WifiNetwork[]): void {
    this.networks = networks;
    this.waiting = false;
    if (this.ssid === "") {
      this.otherChosen = this.other !== "" || this.keyType >= 0; // (after an error with "Another network" chosen)
      return;
    }
    let shown = 0;
    for (let i = 0; i < networks.length && shown < MAX_PAGE_NETWORKS; i++) {
      if (!listedFirst(networks, i)) continue;
      shown++;
      const n = networks[i];
      if (n.ssid === this.ssid && (this.keyType < 0 || n.keyType === this.keyType)) {
        this.chosenRow = i;
        return;
      }
    }
    this.other = this.ssid; // not in range now: under "Another network"
    this.otherChosen = true;
  }
}

/** The device as the page names it. */
export interface PortalDevice {
  readonly alias: string;
  readonly personality: { readonly model: string };
  readonly identity: { readonly mac: string };
}

/**
 * One HTTP connection: collects a bounded request, hands it to the portal, then writes the screen
 * it answers with, piece by piece, no more at a time than the socket has room for (resuming when it
 * is writable again): nothing waits in the adapter's queue, however long the page. The whole request
 * must arrive within the frame deadline of the Kasa port; a client that stops taking the page is
 * dropped after the idle time.
 */
class HttpConnection implements StreamHandler, Bounded {
  private buffer = new Uint8Array(256);
  private length = 0;
  private done = false;
  private readonly opened: number;
  /** The screen being written, and when the client last took some of it. */
  private answer: Answer | null = null;
  private progress = 0;
  /** The socket as the portal uses it: closing it also gives the connection's place back. */
  private readonly socket: StreamSocket;

  constructor(
    raw: StreamSocket,
    private readonly portal: SetupPortal,
    private readonly setupClient: boolean,
  ) {
    this.opened = portal.now();
    this.socket = {
      write: (bytes) => raw.write(bytes),
      unsent: () => raw.unsent(),
      room: () => raw.room(),
      close: () => {
        portal.connections.release(this);
        raw.close();
      },
      abort: () => {
        portal.connections.release(this);
        raw.abort();
      },
    };
  }

  deadline(): number {
    const answer = this.answer;
    if (answer !== null && !answer.waiting) return this.progress + this.portal.limits.frameDeadlineMs;
    return this.done ? 0 : this.opened + this.portal.limits.frameDeadlineMs;
  }

  idleSince(): number {
    return this.opened;
  }

  /** One request per connection: once it is complete the connection is busy answering it, never idle. */
  served(): number {
    return 0;
  }

  /** Dropped (late, evicted, or the page closing): a joining page's credentials go with it, nothing is joined. */
  expire(): void {
    this.done = true;
    this.answer = null;
    this.socket.close();
  }

  data(bytes: Uint8Array): void {
    if (this.done) return;
    if (this.length + bytes.length > MAX_HTTP_REQUEST_BYTES) return this.refuse(413, "Payload Too Large");
    if (this.length + bytes.length > this.buffer.length) {
      const bigger = new Uint8Array(Math.min(MAX_HTTP_REQUEST_BYTES, Math.max(this.buffer.length * 2, this.length + bytes.length)));
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
    }
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    const request = parseRequest(this.buffer.subarray(0, this.length));
    if (request === "incomplete") return;
    this.done = true;
    if (request === undefined) return this.refuse(400, "Bad Request");
    this.buffer = EMPTY; // the request is read: its bytes are not kept while the page is written
    this.portal.serve(request, this.socket, this.setupClient, this);
  }

  /** The screen that answers the request: written now, or once the networks it lists are known. */
  start(answer: Answer): void {
    this.answer = answer;
    this.progress = this.portal.now();
    this.pump();
  }

  /** The scan the page waited for is done (or given up on). */
  networksKnown(networks: readonly WifiNetwork[]): void {
    const answer = this.answer;
    if (answer === null) return; // dropped meanwhile
    answer.listed(networks);
    this.progress = this.portal.now();
    this.pump();
  }

  writable(): void {
    this.pump();
  }

  /** Writes the screen on, within the socket's room; closes the connection at its end. */
  private pump(): void {
    const answer = this.answer;
    if (answer === null || answer.waiting) return;
    for (;;) {
      const room = this.socket.room();
      if (room <= 0) return;
      if (answer.current === null) {
        answer.current = this.portal.piece(answer);
        answer.sent = 0;
        if (answer.current === null) {
          this.answer = null;
          this.socket.close();
          if (answer.credentials !== undefined) this.portal.joinWith(answer.credentials);
          return;
        }
      }
      const bytes = utf8Encode(answer.current);
      const from = answer.sent;
      const to = bytes.length - from <= room ? bytes.length : from + room;
      this.socket.write(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
      this.progress = this.portal.now();
      if (to < bytes.length) {
        answer.sent = to;
        return;
      }
      answer.current = null;
    }
  }

  end(): void {
    const answer = this.answer;
    this.answer = null;
    if (!this.done) {
      this.done = true;
      this.socket.close();
    }
    this.portal.connections.release(this); // a peer gone before its answer: the place is free again
    if (answer?.credentials !== undefined) this.portal.joinWith(answer.credentials); // (the form was sent: it is acted on)
  }

  private refuse(status: number, text: string): void {
    this.done = true;
    send(this.socket, `HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    this.socket.close();
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Whether a request's Host is the plug's own: absent (not a browser: every browser sends one), an
 * IP literal with or without a port (whatever address the page is reached at; no name can be
 * rebound to it), or localhost (the host target). A hostname, whatever it resolves to, is not.
 */
export function ownHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const n = host.length;
  if (n === 0) return false;
  if (host.charCodeAt(0) === 91) {
    // "[IPv6]" or "[IPv6]:port"
    const close = host.indexOf("]");
    return close > 1 && allOf(host, 1, close, 2) && (close === n - 1 || (host.charCodeAt(close + 1) === 58 && allOf(host, close + 2, n, 0)));
  }
  const colon = host.indexOf(":");
  const end = colon < 0 ? n : colon;
  if (colon >= 0 && !allOf(host, colon + 1, n, 0)) return false;
  if (end === 9 && host.startsWith("localhost")) return true;
  // dotted-quad IPv4: digits and exactly three dots, no empty part
  let dots = 0;
  for (let i = 0; i < end; i++) {
    const c = host.charCodeAt(i);
    if (c === 46) {
      if (i === 0 || host.charCodeAt(i - 1) === 46) return false;
      dots++;
    } else if (c < 48 || c > 57) return false;
  }
  return dots === 3 && end > 0 && host.charCodeAt(end - 1) !== 46;
}

/** Whether text[from, to) is non-empty and all digits (kind 0) or all hex digits, colons and dots (kind 2: an IPv6 literal). */
function allOf(text: string, from: number, to: number, kind: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (kind === 2 && (c === 58 || c === 46 || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) continue;
    return false;
  }
  return true;
}

/**
 * Whether a post came from the page itself: its Origin is http://<its Host>, or, without an Origin,
 * its Referer is a page under it. A browser sends an Origin with every POST (a page that hides its
 * origin sends "null", refused); a request with neither is not from a browser and is taken.
 */
export function fromPage(request: { host: string | undefined; origin: string | undefined; referer: string | undefined }): boolean {
  const origin = request.origin;
  const referer = request.referer;
  if (origin === undefined && referer === undefined) return true;
  const host = request.host;
  if (host === undefined) return false; // a browser's header without its Host: nothing to check it against
  if (origin !== undefined) return origin.length === host.length + 7 && origin.startsWith("http://") && origin.endsWith(host);
  return referer!.startsWith("http://") && referer!.startsWith(host, 7) && referer!.charCodeAt(7 + host.length) === 47; // "/"
}

function header(status: number): string {
  return (
    `HTTP/1.1 ${status} ${status === 200 ? "OK" : status === 403 ? "Forbidden" : "Bad Request"}\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n` +
    `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; script-src '${SCRIPT_HASH}'; form-action 'self'\r\n` +
    "X-Frame-Options: DENY\r\nConnection: close\r\n\r\n"
  );
}

function send(socket: StreamSocket, text: string): void {
  socket.write(utf8Encode(text));
}

/** A complete request, "incomplete" while more bytes are needed, undefined when malformed. */
export function parseRequest(bytes: Uint8Array): Request | "incomplete" | undefined {
  const end = indexOf(bytes, CRLF2, 0);
  if (end < 0) return "incomplete";
  const head = parseHead(bytes, end);
  if (head === undefined || head.contentLength > MAX_FORM_BYTES) return undefined;
  const bodyStart = end + 4;
  if (bytes.length < bodyStart + head.contentLength) return "incomplete";
  return { method: head.method, path: head.path, body: bytes.subarray(bodyStart, bodyStart + head.contentLength), host: head.host, origin: head.origin, referer: head.referer };
}

/** What parseHead reads of a request's line and headers. */
export interface RequestHead {
  method: string;
  path: string;
  /** Where the path starts in the bytes (after the method and its space), for readers of its query on bytes. */
  pathAt: number;
  contentLength: number;
  host: string | undefined;
  origin: string | undefined;
  referer: string | undefined;
  /** A Transfer-Encoding header was sent (a body this parser cannot delimit). */
  transferEncoding: boolean;
}

/**
 * The request line and the few headers the plug's pages read (Content-Length, Host, Origin, Referer,
 * Transfer-Encoding; names case-insensitive; the rest ignored) from bytes[0, end), `end` the index of
 * the CRLFCRLF that ends them; undefined when malformed. Any of Host, Origin and Referer twice is
 * malformed: which one a check would read must not be a guess. Shared by the setup page and the
 * owner's page (owner/owner-page.ts).
 */
export function parseHead(bytes: Uint8Array, end: number): RequestHead | undefined {
  const lineEnd = indexOf(bytes, CRLF, 0);
  const space1 = bytes.indexOf(32);
  const space2 = space1 < 0 ? -1 : bytes.indexOf(32, space1 + 1);
  if (space1 <= 0 || space2 < 0 || space2 > lineEnd) return undefined;
  const method = ascii(bytes, 0, space1);
  const path = ascii(bytes, space1 + 1, space2);
  if (path.length === 0 || path.charCodeAt(0) !== 47) return undefined; // "/"
  let contentLength = 0;
  let host: string | undefined;
  let origin: string | undefined;
  let referer: string | undefined;
  let transferEncoding = false;
  let at = lineEnd + 2;
  while (at < end) {
    const next = indexOf(bytes, CRLF, at);
    if (startsWithLower(bytes, at, "content-length:")) {
      const value = ascii(bytes, at + 15, next).trim();
      contentLength = value === "" ? NaN : Number(value);
      if (!Number.isInteger(contentLength) || contentLength < 0) return undefined;
    } else if (startsWithLower(bytes, at, "host:")) {
      if (host !== undefined) return undefined;
      host = ascii(bytes, at + 5, next).trim();
    } else if (startsWithLower(bytes, at, "origin:")) {
      if (origin !== undefined) return undefined;
      origin = ascii(bytes, at + 7, next).trim();
    } else if (startsWithLower(bytes, at, "referer:")) {
      if (referer !== undefined) return undefined;
      referer = ascii(bytes, at + 8, next).trim();
    } else if (startsWithLower(bytes, at, "transfer-encoding:")) transferEncoding = true;
    at = next + 2;
  }
  return { method, path, pathAt: space1 + 1, contentLength, host, origin, referer, transferEncoding };
}

/** application/x-www-form-urlencoded on bytes: '+' is a space, %XX a byte, values decoded as UTF-8. */
export function parseForm(body: Uint8Array): { [name: string]: string | undefined } {
  const form: { [name: string]: string | undefined } = {};
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(38, start); // '&'
    if (end < 0) end = body.length;
    const eq = body.subarray(start, end).indexOf(61); // '='
    if (eq > 0) {
      const name = utf8Decode(unescapeForm(body.subarray(start, start + eq)));
      if (name === "s" || name === "o" || name === "k" || name === "p" || name === "u" || name === "w") form[name] = utf8Decode(unescapeForm(body.subarray(start + eq + 1, end)));
    }
    start = end + 1;
  }
  return form;
}

function unescapeForm(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 43) out[n++] = 32;
    else if (c === 37 && i + 2 < bytes.length && hexValue(bytes[i + 1]) >= 0 && hexValue(bytes[i + 2]) >= 0) {
      out[n++] = (hexValue(bytes[i + 1]) << 4) | hexValue(bytes[i + 2]);
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** Where `pattern` first occurs in `bytes` from `from`, or -1 (CRLF2: the end of a request's head). */
export function indexOf(bytes: Uint8Array, pattern: readonly number[], from: number): number {
  outer: for (let i = from; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

function startsWithLower(bytes: Uint8Array, at: number, lower: string): boolean {
  if (at + lower.length > bytes.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = bytes[at + i];
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Bytes known to be ASCII (the request line, a header value) as a string. */
function ascii(bytes: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i] & 0x7f);
  return s;
}

/** Text for HTML content and quoted attributes. */
export function escapeHtml(text: string): string {
  let out = "";
  for (const ch of text) {
    if (ch === "&") out += "&amp;";
    else if (ch === "<") out += "&lt;";
    else if (ch === ">") out += "&gt;";
    else if (ch === '"') out += "&quot;";
    else if (ch === "'") out += "&#39;";
    else out += ch;
  }
  return out;
}
