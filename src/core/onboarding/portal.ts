// The setup page and its captive-portal DNS, up only while the setup network is: `GET /` shows the
// networks in range, a form and the outcome of the last attempt; `POST /join` takes the credentials
// (validated as netif.set_stainfo's); any other path redirects to the page, which is what makes
// phones open it by themselves. HTTP/1.1 with one request per connection, parsed on bytes, bounded.
// The page is constant text (in flash on a device) sent in pieces; only the network list and the
// status line are made per request. Its connections are bounded as the Kasa port's: at the bound the
// oldest one still waiting for its request makes room for a new client (a phone's captive-portal
// probe or a browser's unused preconnection must not keep the page from loading until the frame
// deadline). A DNS port that cannot be listened on leaves the page up without captive DNS.
//
// Cross-site posts are refused (a page on another site must not move the plug by submitting a form
// to /join): the page is served only under the plug's own address (any other Host is redirected to
// it, as captive-portal probes are), and a post is taken only when its Host is the plug's own and
// its Origin (or, without one, its Referer) is the page's. "Own" is an IP literal or localhost: a
// hostname can be rebound to the plug's address by its owner (DNS rebinding), an IP literal cannot.
// A request with none of these headers is not from a browser (curl, a script) and is taken.

import type { DatagramPort, LogPort, StreamHandler, StreamSocket, TcpListenerPort, TimerPort, WifiNetwork, WifiPort } from "../../ports/ports.js";
import { ConnectionSet, REFUSED, type Bounded } from "../connections.js";
import { errorText } from "../errors.js";
import { DEVICE_LIMITS, type Limits } from "../limits.js";
import { SCAN_TIMEOUT_MS } from "../modules/netif.js";
import { hexValue } from "../params.js";
import { utf8Decode, utf8Encode } from "../wire/utf8.js";
import { captiveAnswer, ipv4Bytes } from "./captive-dns.js";
import { checkCredentials } from "./credentials.js";
import type { Onboarding } from "./onboarding.js";

/** Largest request accepted (request line, headers and body); phones send well under 1 KB. */
export const MAX_HTTP_REQUEST_BYTES = 2048;
/** Largest form body (three fields of at most 64 characters, percent-encoded). */
export const MAX_FORM_BYTES = 640;
/** Most networks listed on the page (strongest first, each name once). */
export const MAX_PAGE_NETWORKS = 16;
/** A scan older than this is repeated when the page is loaded. */
export const SCAN_MAX_AGE_MS = 20000;

const CRLF2: readonly number[] = Object.freeze([13, 10, 13, 10]);
const CRLF: readonly number[] = Object.freeze([13, 10]);

const HEAD =
  '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
  "<title>Plug setup</title><style>body{font:16px sans-serif;margin:1em auto;max-width:30em;padding:0 1em}" +
  "label{display:block;margin:.5em 0}input[type=text],input[type=password],select{font:inherit;padding:.3em;width:100%;box-sizing:border-box}" +
  "small{color:#666}button{font:inherit;padding:.4em 2em;margin:.8em 0}p.s{padding:.5em;background:#eee}</style></head><body>";
const FORM_START = '<form method="post" action="/join"><fieldset><legend>Wi-Fi network</legend>';
const FORM_END =
  '<label><input type="radio" name="s" value="other"> Another network: <input type="text" name="o" maxlength="32" aria-label="Network name"></label>' +
  '<label>Its security: <select name="k"><option value="3">WPA2</option><option value="2">WPA</option><option value="0">None (open)</option></select></label>' +
  '</fieldset><label>Password <input type="password" name="p" maxlength="64" autocomplete="off"></label>' +
  '<button type="submit">Join</button></form><p><a href="/">Scan again</a></p>' +
  "<p><small>Your password goes to this plug only and is never shown again. WEP networks are not supported.</small></p></body></html>";
const JOINING =
  "<p>The setup network closes now while the plug joins. Its LED flickers while joining and shows the relay once joined. " +
  "If the join fails the setup network comes back (the LED flashes three times): reconnect to it and reload this page to see why.</p></body></html>";

const REFUSED_CROSS_SITE =
  "<h1>Refused</h1><p>This form was not sent from the plug's own setup page, so nothing was changed. " +
  "If you are setting up this plug, open its page and send the form from there: ";

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

export class SetupPortal {
  private http: TcpListenerPort | null = null;
  private dns: DatagramPort | null = null;
  private networks: WifiNetwork[] = [];
  private scannedAt = -1;
  private waiting: (() => void)[] | null = null;
  /** The page's connections: as many and as slow as the Kasa port's (limits.ts), the oldest making room for a new one. */
  readonly connections: ConnectionSet<HttpConnection>;

  constructor(
    private readonly ports: PortalPorts,
    private readonly onboarding: Onboarding,
    /** The plug, whose name is the page's title. */
    private readonly device: { readonly alias: string },
    /** The port the page is served on (80 on a device). */
    private readonly httpPort = 80,
    readonly limits: Limits = DEVICE_LIMITS,
  ) {
    this.connections = new ConnectionSet<HttpConnection>(ports.timers, ports.now, limits.maxConnections);
  }

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
  }

  private query(bytes: Uint8Array, address: string, port: number): void {
    if (port === 0) return; // forged: no answer can go to port 0
    const ip = ipv4Bytes(this.ports.wifi.accessPointAddress());
    const answer = ip === undefined ? undefined : captiveAnswer(bytes, ip);
    if (answer === undefined) return;
    this.onboarding.clientSign(address); // a phone on the setup network looking things up is a client sign
    this.dns?.send(answer, address, port);
  }

  /** Answers one complete request; `setupClient`: from a client of the setup network (Onboarding.clientSign). */
  serve(request: Request, socket: StreamSocket, setupClient: boolean): void {
    if (setupClient) this.onboarding.activity();
    const path = request.path;
    const own = ownHost(request.host);
    if (request.method === "GET" && own && (path === "/" || path.startsWith("/?"))) {
      this.withNetworks(() => this.page(socket, 200, ""));
    } else if (request.method === "POST" && path === "/join") {
      // Cross-site posts are refused everywhere; a provisioned plug's page is reachable from its home
      // network too (a device listens on every interface): moving it from there needs its button and
      // netif.set_stainfo, not this form.
      if (!own || !fromPage(request)) this.refuseCrossSite(socket);
      else if (setupClient || !this.onboarding.provisioned()) this.join(request.body, socket);
      else {
        send(socket, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        socket.close();
      }
    } else if (request.method === "GET" || request.method === "HEAD") {
      // Captive-portal probes (generate_204, hotspot-detect.html, ...), every other path, and the
      // page asked for under a name: the page is shown under the plug's address, where its form is taken.
      send(socket, `HTTP/1.1 302 Found\r\nLocation: ${this.url()}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      socket.close();
    } else {
      send(socket, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, POST\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      socket.close();
    }
  }

  private join(body: Uint8Array, socket: StreamSocket): void {
    const form = parseForm(body);
    const choice = form.s ?? "";
    let ssid: string | undefined;
    let keyType: number;
    if (choice === "other" || choice === "") {
      ssid = form.o;
      keyType = Number(form.k ?? "3");
    } else {
      // "<key_type>:<ssid>", as the list wrote it
      ssid = choice.slice(2);
      keyType = Number(choice.slice(0, 1));
    }
    const checked = checkCredentials(ssid, form.p ?? "", keyType);
    if (!checked.ok) {
      this.withNetworks(() => this.page(socket, 400, `Not sent: ${checked.error}.`));
      return;
    }
    const name = escapeHtml(checked.credentials.ssid);
    send(socket, header(200));
    send(socket, HEAD);
    send(socket, `<h1>Joining &ldquo;${name}&rdquo;</h1>`);
    send(socket, JOINING);
    socket.close();
    this.onboarding.received(checked.credentials);
  }

  /** A post from another site: a 403 page that says where the real one is; nothing changes. */
  private refuseCrossSite(socket: StreamSocket): void {
    this.ports.log("setup page: refused a form sent from another site (nothing changed)");
    const url = escapeHtml(this.url());
    send(socket, header(403));
    send(socket, HEAD);
    send(socket, REFUSED_CROSS_SITE);
    send(socket, `<a href="${url}">${url}</a></p></body></html>`);
    socket.close();
  }

  private page(socket: StreamSocket, code: number, message: string): void {
    send(socket, header(code));
    send(socket, HEAD);
    send(socket, `<h1>${escapeHtml(this.device.alias)}</h1>`);
    const last = this.onboarding.lastAttempt();
    const line =
      message !== ""
        ? escapeHtml(message)
        : last === undefined
          ? "Choose the network this plug should join."
          : `Last attempt: &ldquo;${escapeHtml(last.ssid)}&rdquo;: ${escapeHtml(last.result)}.`;
    send(socket, `<p class="s" id="status">${line}</p>`);
    send(socket, FORM_START);
    const seen: string[] = [];
    for (const n of this.networks) {
      if (seen.length >= MAX_PAGE_NETWORKS) break;
      if (n.ssid === "" || n.keyType === 1 || seen.indexOf(n.ssid) >= 0) continue;
      seen.push(n.ssid);
      const name = escapeHtml(n.ssid);
      send(socket, `<label><input type="radio" name="s" value="${n.keyType}:${name}"> ${name} <small>${KEY_NAMES[n.keyType]}, ${n.rssi} dBm</small></label>`);
    }
    if (seen.length === 0) send(socket, "<p><small>No networks found yet.</small></p>");
    send(socket, FORM_END);
    socket.close();
  }

  /** Runs `then` with a scan no older than SCAN_MAX_AGE_MS (or what is known after SCAN_TIMEOUT_MS). */
  private withNetworks(then: () => void): void {
    const now = this.ports.now();
    if (this.scannedAt >= 0 && now - this.scannedAt < SCAN_MAX_AGE_MS) {
      then();
      return;
    }
    if (this.waiting !== null) {
      this.waiting.push(then);
      return;
    }
    const waiting = (this.waiting = [then]);
    const finish = () => {
      if (this.waiting !== waiting) return;
      this.waiting = null;
      for (const w of waiting) w();
    };
    const timer = this.ports.timers.after(SCAN_TIMEOUT_MS, finish);
    this.ports.wifi.scan((networks) => {
      this.ports.timers.cancel(timer);
      this.networks = networks.slice().sort((a, b) => b.rssi - a.rssi);
      this.scannedAt = this.ports.now();
      finish();
    });
  }
}

/**
 * One HTTP connection: collects a bounded request, then hands it to the portal. The whole request
 * must arrive within the frame deadline of the Kasa port; the answer is the plug's to finish.
 */
class HttpConnection implements StreamHandler, Bounded {
  private buffer = new Uint8Array(256);
  private length = 0;
  private done = false;
  private readonly opened: number;
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
    return this.done ? 0 : this.opened + this.portal.limits.frameDeadlineMs;
  }

  idleSince(): number {
    return this.opened;
  }

  /** One request per connection: once it is complete the connection is busy answering it, never idle. */
  served(): number {
    return 0;
  }

  expire(): void {
    this.done = true;
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
    this.portal.serve(request, this.socket, this.setupClient);
  }

  end(): void {
    if (!this.done) {
      this.done = true;
      this.socket.close();
    }
    this.portal.connections.release(this); // a peer gone before its answer: the place is free again
  }

  private refuse(status: number, text: string): void {
    this.done = true;
    send(this.socket, `HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    this.socket.close();
  }
}

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
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'\r\nX-Frame-Options: DENY\r\nConnection: close\r\n\r\n"
  );
}

function send(socket: StreamSocket, text: string): void {
  socket.write(utf8Encode(text));
}

/** A complete request, "incomplete" while more bytes are needed, undefined when malformed. */
export function parseRequest(bytes: Uint8Array): Request | "incomplete" | undefined {
  const end = indexOf(bytes, CRLF2, 0);
  if (end < 0) return "incomplete";
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
  // headers: Content-Length, Host, Origin and Referer (names case-insensitive); the rest ignored.
  // Any of the last three twice is malformed: which one a check would read must not be a guess.
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
    }
    at = next + 2;
  }
  if (contentLength > MAX_FORM_BYTES) return undefined;
  const bodyStart = end + 4;
  if (bytes.length < bodyStart + contentLength) return "incomplete";
  return { method, path, body: bytes.subarray(bodyStart, bodyStart + contentLength), host, origin, referer };
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
      if (name === "s" || name === "o" || name === "k" || name === "p") form[name] = utf8Decode(unescapeForm(body.subarray(start + eq + 1, end)));
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

function indexOf(bytes: Uint8Array, pattern: readonly number[], from: number): number {
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
