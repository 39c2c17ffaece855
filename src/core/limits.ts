// The plug's resource bounds: everything input can grow is capped here, per board. A real Kasa plug
// falls over on malformed input (PROTOCOL §6); these keep ours serving whatever arrives. Each board
// can override any of them (Moddable: `config.plug.limits` in boards/<name>/manifest.json; the host
// target uses HOST_LIMITS). The numbers and why are in docs/LIMITS.md.

export interface Limits {
  /** Kasa TCP connections open at once; at the bound a new client takes the place of the one idle longest (connections.ts). */
  readonly maxConnections: number;
  /** A connection that has not sent a complete request for this long is closed (ms). */
  readonly idleMs: number;
  /** A frame must finish arriving this long after its first byte, or the slow sender is dropped (ms). */
  readonly frameDeadlineMs: number;
  /** The largest request frame body (bytes); a larger declared length closes the connection. */
  readonly maxFrameBytes: number;
  /** The deepest nesting of objects and arrays in a request. */
  readonly maxJsonDepth: number;
  /** Object members plus array elements in one request, counted together. */
  readonly maxJsonItems: number;
  /**
   * UDP budgets are kept in answer bytes (each datagram also costs UDP_DATAGRAM_BYTES) for this many
   * sender addresses, the most recent: a new one takes the place of the one with the most budget
   * left (a full one has nothing to remember), so that one address flooding is held to its own budget.
   */
  readonly udpSenders: number;
  /** Answer bytes one sender address may be sent at once (a client's burst of requests) ... */
  readonly udpSenderBurstBytes: number;
  /** ... and each second after that: a sender beyond it gets no answer until its budget refills. */
  readonly udpSenderBytesPerSecond: number;
  /** Answer bytes the whole plug sends over UDP at once, to every address together (a flood from many) ... */
  readonly udpBurstBytes: number;
  /** ... and each second after that. */
  readonly udpBytesPerSecond: number;
  /**
   * The longest UDP answer: one datagram that needs no IP fragments on Ethernet/Wi-Fi (1500-byte MTU
   * less the IP and UDP headers). A longer answer is replaced by a short error that says to ask over TCP.
   */
  readonly udpMaxAnswerBytes: number;
  /** At most this many relay changes in any RELAY window ... */
  readonly relayChanges: number;
  /** ... of this length (ms); changes beyond it wait, and the last state asked for wins. */
  readonly relayWindowMs: number;
  /** The shortest time between two relay changes (ms): contacts are never chattered. */
  readonly relayGapMs: number;
  /**
   * TCP answers are encrypted into one buffer of this many bytes, allocated once by the server and
   * written to the socket each time it fills: no answer is ever whole in memory (wire/json-out.ts).
   */
  readonly answerBufferBytes: number;
  /**
   * Answer bytes one connection may leave unsent (a client that asks and never reads): an answer
   * that would take its unsent output past this is not written, and the connection is closed with
   * its unsent output dropped. An answer to a connection with nothing unsent always goes out.
   */
  readonly maxUnsentBytes: number;
  /**
   * Settings writes that reach flash in any hour (settings.ts): the flash wear budget. Changes beyond
   * it wait in RAM, the last value of each setting winning, until the next hour allows them (or a
   * restart, reset or stop writes them); only a power cut before then loses them.
   */
  readonly settingsWritesPerHour: number;
  // ---- KLAP on HTTP (klap/klap-server.ts) ----
  /** KLAP HTTP connections open at once (their own bound: an ESP8266 has 5 lwIP TCP control blocks for everything). */
  readonly klapConnections: number;
  /**
   * KLAP sessions kept at once (a handshake waiting for its handshake2 counts): a new handshake1 takes
   * the place of an expired one, else of the one unused longest. A client whose session went gets a 403
   * and redoes the handshake (python-kasa does so by itself).
   */
  readonly klapSessions: number;
  /** A session's lifetime (s): the TIMEOUT cookie handshake1 sets; python-kasa redoes the handshake 20 min before it ends. */
  readonly klapSessionSeconds: number;
  /** A session unused this long is gone (ms): its client redoes the handshake after a 403. */
  readonly klapSessionIdleMs: number;
  /** A handshake1 must be followed by its handshake2 within this (ms). */
  readonly klapHandshakeMs: number;
  /** A request's line and headers together, at most (bytes); more: 431 and closed. Parsed as they arrive, not kept. */
  readonly klapHeadBytes: number;
  /**
   * The longest answer plaintext a KLAP request gets (bytes): a longer one has each method's answer
   * replaced by an error saying so. Not a memory bound (answers are streamed through the
   * answerBufferBytes buffer): a time bound, each part the socket takes costing a pass over the answer.
   * Python-kasa's update of a plug with every rule table full is some 10 KB: the device's bound is above it.
   */
  readonly klapMaxAnswerBytes: number;
  /**
   * Handshake1 budgets, in handshakes, kept for this many client addresses (the most recent, as
   * udpSenders): beyond its sender's or the plug's budget a handshake1 gets 429.
   */
  readonly klapHandshakeSenders: number;
  /** Handshakes one address may make at once ... */
  readonly klapSenderHandshakes: number;
  /** ... and each minute after that. */
  readonly klapSenderHandshakesPerMinute: number;
  /** Handshakes the whole plug takes at once, from every address together ... */
  readonly klapHandshakes: number;
  /** ... and each minute after that. */
  readonly klapHandshakesPerMinute: number;
  // ---- the owner's page (owner/owner-page.ts) ----
  /**
   * The owner's page's HTTP connections open at once (one request each). On a device in the KLAP modes
   * they share port 80 with KLAP's: both bounds together stay under the ESP8266's 5 lwIP control blocks
   * with the Kasa port's.
   */
  readonly ownerConnections: number;
  /**
   * Owner's page sessions kept at once (a log-in waiting for its proof counts): a new one takes the
   * place of an expired one, else of the one unused longest. A session's lifetime and idle expiry are
   * KLAP's (klapSessionSeconds, klapSessionIdleMs), its log-in's time klapHandshakeMs, its log-in
   * budgets KLAP's handshake budgets (klapHandshakeSenders ...), counted apart.
   */
  readonly ownerSessions: number;
  /** The recent log lines the owner's page shows: one ring of this many bytes (owner/log-ring.ts). */
  readonly ownerLogBytes: number;
}

/**
 * A device's bounds, sized for an ESP8266 (32 KB for the whole JS VM, 5 lwIP TCP control blocks):
 * the tightest board. ESP32 boards raise the connection and frame bounds in their manifests.
 */
export const DEVICE_LIMITS: Limits = Object.freeze({
  maxConnections: 3,
  idleMs: 60 * 1000,
  frameDeadlineMs: 5 * 1000,
  maxFrameBytes: 2048,
  maxJsonDepth: 8,
  maxJsonItems: 96,
  udpSenders: 4,
  udpSenderBurstBytes: 64 * 1024,
  udpSenderBytesPerSecond: 32 * 1024,
  udpBurstBytes: 128 * 1024,
  udpBytesPerSecond: 96 * 1024,
  udpMaxAnswerBytes: 1472,
  relayChanges: 10,
  relayWindowMs: 20 * 1000,
  relayGapMs: 100,
  answerBufferBytes: 256,
  maxUnsentBytes: 2048,
  settingsWritesPerHour: 60,
  klapConnections: 2,
  klapSessions: 2,
  klapSessionSeconds: 86400,
  klapSessionIdleMs: 30 * 60 * 1000,
  klapHandshakeMs: 10 * 1000,
  klapHeadBytes: 1024,
  klapMaxAnswerBytes: 16 * 1024,
  klapHandshakeSenders: 4,
  klapSenderHandshakes: 6,
  klapSenderHandshakesPerMinute: 6,
  klapHandshakes: 12,
  klapHandshakesPerMinute: 20,
  ownerConnections: 2,
  ownerSessions: 2,
  ownerLogBytes: 384,
});

/**
 * The plug logs at most this many lines a minute of those a client can cause (refused, idle, slow
 * and oversized connections, failed requests and methods, presence-lock refusals, relay flood
 * guard, rules and countdowns firing, LED changes, Wi-Fi lines of the setup page): they all go
 * through one ThrottledLog, built by createPlug. The first line after a minute that dropped some
 * says how many. A flood of requests must not become a flood on the serial console: on a CSE7766
 * board the ESP8266's console shares UART0 with the meter at 4800 baud, about 100 lines a minute.
 */
export const LOG_LINES_PER_MINUTE = 20;

/**
 * The bound for a plug told to be verbose (PlugOptions.verbose: the host's `--verbose`), which adds
 * a line for each method a client calls: higher, for a person watching a terminal, still a bound.
 */
export const VERBOSE_LOG_LINES_PER_MINUTE = 300;

/**
 * The plug's one log: `line` passes at most `perMinute` lines in any minute that starts with a
 * line; the rest are counted, and the count is logged before the next line that passes. `notice`
 * is for the few lines the owner must see whatever a client does (the plug's identity at boot, the
 * setup network and its passphrase): never dropped, never counted. Both escape control characters
 * (escapeControls): a line holds names and texts that came from the network. A class, not a
 * closure: its methods stay in flash with the preloaded module, where a closure's code is copied
 * into RAM and its environment kept (docs/MEMORY.md); consumers that take a log function get a
 * bound method.
 */
export class ThrottledLog {
  private windowStart = -Infinity;
  private used = 0;
  private dropped = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly now: () => number,
    private readonly perMinute: number,
  ) {}

  line(text: string): void {
    const t = this.now();
    if (t - this.windowStart >= 60_000) {
      if (this.dropped > 0) this.log(`(${this.dropped} more log lines not shown: over ${this.perMinute} a minute)`);
      this.windowStart = t;
      this.used = 0;
      this.dropped = 0;
    }
    if (this.used < this.perMinute) {
      this.used++;
      this.log(escapeControls(text));
    } else this.dropped++;
  }

  notice(text: string): void {
    this.log(escapeControls(text));
  }
}

const HEX = "0123456789abcdef";

/** C0 controls, DEL and C1 controls: what a terminal acts on instead of showing. */
function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/**
 * `text` with every C0 control, DEL and C1 control written out (`\x1b`, `\x0a`, `\u009b`), so that
 * an alias, SSID, rule name or error text from the network cannot move the cursor, clear the
 * terminal or start a forged log line. The text itself, with nothing allocated, when it has none
 * (the usual case: one scan of its characters on a device).
 */
export function escapeControls(text: string): string {
  const n = text.length;
  let i = 0;
  while (i < n && !isControl(text.charCodeAt(i))) i++;
  if (i === n) return text;
  let out = "";
  let from = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (!isControl(c)) continue;
    out += text.slice(from, i) + (c < 0x80 ? "\\x" : "\\u00") + HEX[c >> 4] + HEX[c & 15];
    from = i + 1;
  }
  return out + text.slice(from);
}

/** What a UDP datagram costs its sender's budget and the plug's besides its answer: reading it, and the headers. */
export const UDP_DATAGRAM_BYTES = 64;

/**
 * UDP answer budgets, in bytes: one for each of the `udpSenders` most recent sender addresses, and
 * one for the whole plug. A datagram is answered only while both its sender's and the plug's are
 * above zero; it costs UDP_DATAGRAM_BYTES when let in and its answer's bytes when the answer goes out
 * (so a budget may go below zero by one answer). A client that asks one thing at a time, or a burst
 * of a few dozen, stays within its own budget; one address flooding spends its own and only its own;
 * the plug's budget is the bound against a flood from many addresses, and the byte count bounds what
 * a forged source address can have sent to its owner (the plug must not be an amplifier).
 *
 * All of it is one Float64Array (no object of its own: the ESP8266's heap has a few hundred bytes
 * spare): 2 numbers per sender (a 32-bit hash of its address, its budget), then the plug's budget
 * and the monotonic ms it was all last refilled to. Nothing is kept per datagram, and no name or
 * object is made from an address. Two addresses with the same hash share one budget.
 */
export function udpBudgets(limits: Limits, now: number): Float64Array {
  return budgets(limits.udpSenders, limits.udpSenderBurstBytes, limits.udpBurstBytes, now);
}

/** Takes a datagram's cost from its sender's budget and the plug's; false, taking nothing, when either is spent. */
export function udpAdmit(rows: Float64Array, limits: Limits, now: number, address: string): boolean {
  return budgetAdmit(rows, now, address, limits.udpSenderBurstBytes, limits.udpSenderBytesPerSecond, limits.udpBurstBytes, limits.udpBytesPerSecond, UDP_DATAGRAM_BYTES);
}

/**
 * Budgets as udpBudgets keeps them, for any unit (bytes, handshakes): `senders` rows starting full at
 * `senderBurst`, and the plug's at `burst`.
 */
export function budgets(senders: number, senderBurst: number, burst: number, now: number): Float64Array {
  const rows = new Float64Array(2 * senders + 2);
  for (let i = 0; i < senders; i++) rows[2 * i + 1] = senderBurst;
  rows[2 * senders] = burst;
  rows[2 * senders + 1] = now;
  return rows;
}

/**
 * Refills every budget of `rows` (budgets) for the time since the last refill (each up to its burst),
 * then takes `cost` from the sender's and the plug's; false, taking nothing, when either is spent.
 */
export function budgetAdmit(
  rows: Float64Array, now: number, address: string, senderBurst: number, senderPerSecond: number, burst: number, perSecond: number, cost: number,
): boolean {
  const plug = rows.length - 2;
  const ms = now - rows[plug + 1];
  if (ms > 0) {
    rows[plug + 1] = now;
    for (let at = 0; at < plug; at += 2) rows[at + 1] = Math.min(senderBurst, rows[at + 1] + (ms * senderPerSecond) / 1000);
    rows[plug] = Math.min(burst, rows[plug] + (ms * perSecond) / 1000);
  }
  const at = senderRow(rows, hash(address), senderBurst);
  if (rows[at + 1] <= 0 || rows[plug] <= 0) return false;
  rows[at + 1] -= cost;
  rows[plug] -= cost;
  return true;
}

/** Takes an answer's bytes from its sender's budget (if it still has one) and the plug's. */
export function udpSpend(rows: Float64Array, address: string, bytes: number): void {
  const plug = rows.length - 2;
  const key = hash(address);
  for (let at = 0; at < plug; at += 2) {
    if (rows[at] === key) {
      rows[at + 1] -= bytes;
      break;
    }
  }
  rows[plug] -= bytes;
}

/**
 * The index of the row of the sender with this key; when it has none, the row with the most budget
 * left (a full one has nothing to remember) is given to it with a full budget (`burst`).
 */
function senderRow(rows: Float64Array, key: number, burst: number): number {
  const plug = rows.length - 2;
  let most = 0;
  for (let at = 0; at < plug; at += 2) {
    if (rows[at] === key) return at;
    if (rows[at + 1] > rows[most + 1]) most = at;
  }
  rows[most] = key;
  rows[most + 1] = burst;
  return most;
}

/** FNV-1a over an address's characters, as a whole number from 1 to 2^32 - 1 (0 is an unused row). */
function hash(address: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}

/** The virtual plug on Node: the same protocol bounds, room for a benchmark's clients. */
export const HOST_LIMITS: Limits = Object.freeze({
  ...DEVICE_LIMITS,
  maxConnections: 32,
  udpSenders: 16,
  maxFrameBytes: 16 * 1024,
  maxJsonItems: 512,
  answerBufferBytes: 16 * 1024,
  maxUnsentBytes: 64 * 1024,
  klapConnections: 16,
  klapSessions: 8,
  klapHeadBytes: 4096,
  klapMaxAnswerBytes: 64 * 1024,
  klapHandshakeSenders: 16,
  // A client's own test suite handshakes for nearly every test: python-kasa's, run against a host
  // plug, makes some 12 a second from one address for over a minute (a device's budget is for
  // Home Assistant, which keeps one session for a day).
  klapSenderHandshakes: 120,
  klapSenderHandshakesPerMinute: 1200,
  klapHandshakes: 240,
  klapHandshakesPerMinute: 2400,
  ownerConnections: 16,
  ownerSessions: 8,
  ownerLogBytes: 4096,
});

/**
 * The bounds with a board's overrides: each override must be a whole number within [1, 10× the
 * default] or it is ignored (a typo in a manifest must not unbound the plug). Returns the defaults
 * object itself when nothing changes. Two functions so that a board without overrides (every
 * ESP8266 board) never reserves the stack of the loop's locals while it boots.
 */
export function withOverrides(base: Limits, overrides: unknown, warn: (line: string) => void): Limits {
  return typeof overrides === "object" && overrides !== null ? overridden(base, overrides, warn) : base;
}

function overridden(base: Limits, overrides: object, warn: (line: string) => void): Limits {
  const out: { [key: string]: number } = { ...base };
  const given = overrides as { [key: string]: unknown };
  const names = Object.keys(given);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const raw = given[name];
    const value = typeof raw === "string" ? Number(raw) : raw; // mcconfig overrides arrive as strings
    const fallback = (base as unknown as { [key: string]: number })[name];
    if (fallback === undefined) warn(`limits: unknown "${name}" ignored`);
    else if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= fallback * 10) out[name] = value;
    else warn(`limits: ${name} must be a whole number from 1 to ${fallback * 10}; keeping ${fallback}`);
  }
  return Object.freeze(out) as unknown as Limits;
}
