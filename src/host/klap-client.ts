// A KLAP client of the project's own, for the tests and the chip-true check (scripts/chip-memory.mjs,
// through dist/), written from python-kasa's kasa/transports/klaptransport.py with node:crypto (not
// from src/core/klap: it checks the plug, not itself). `klapConnect` does what python-kasa does
// (handshake1, the server's proof checked, handshake2, encrypted requests on one keep-alive
// connection); the pieces under it send crafted handshakes, bodies and raw bytes. Also python-kasa's
// discovery probe for UDP 20002 (kasa/discover.py _AesDiscoveryQuery). The plug never uses it.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export interface HttpAnswer {
  status: number;
  /** Header names lowercased; a repeated header's values joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
}

/** One HTTP/1.1 connection on a raw socket: requests written as given, answers parsed as they arrive. */
export class HttpConnection {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  /** True once the server closed its side (or the socket broke). */
  ended = false;
  /** Resolves once the server closed its side (or the socket closed either way). */
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    let resolveEnd = () => {};
    this.closed = new Promise((resolve) => {
      resolveEnd = resolve;
      socket.on("close", () => {
        this.ended = true;
        this.wake();
        resolve();
      });
    });
    socket.on("error", () => {});
    socket.on("end", () => {
      this.ended = true;
      this.wake();
      resolveEnd();
    });
  }

  static open(host: string, port: number): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, allowHalfOpen: true });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new HttpConnection(socket));
      });
    });
  }

  private wake() {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  /** Resolves when more bytes arrive, the connection ends, or `ms` pass. */
  private more(ms = 2 ** 31 - 1): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiting = () => (clearTimeout(timer), resolve());
    });
  }

  /** Writes raw bytes (a crafted request). */
  send(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  }

  /** The head and body of a POST of `body` to `path`, as aiohttp writes it, with the given extra headers. */
  static request(path: string, body: Uint8Array, headers: Record<string, string> = {}): Buffer {
    let head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nUser-Agent: klap-client\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += `Content-Length: ${body.length}\r\nContent-Type: application/octet-stream\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, "latin1"), body]);
  }

  /** POSTs `body` to `path`; the answer (read as `read` does). */
  post(path: string, body: Uint8Array, headers: Record<string, string> = {}, ms = 10000): Promise<HttpAnswer> {
    this.socket.write(HttpConnection.request(path, body, headers));
    return this.read(ms);
  }

  /** The next answer; rejects when the connection ends first, or after `ms`. */
  async read(ms = 10000): Promise<HttpAnswer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buffered.indexOf("\r\n\r\n");
      if (end >= 0) {
        const lines = this.buffered.subarray(0, end).toString("latin1").split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(lines[0])?.[1] ?? NaN);
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(":");
          const name = line.slice(0, colon).toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
        }
        const length = Number(headers.get("content-length") ?? "0");
        if (this.buffered.length >= end + 4 + length) {
          const body = Buffer.from(this.buffered.subarray(end + 4, end + 4 + length));
          this.buffered = this.buffered.subarray(end + 4 + length);
          return { status, headers, body };
        }
      }
      if (this.ended) throw new Error(`KLAP: connection closed before an answer (${this.buffered.length} bytes read)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`KLAP: no answer in ${ms} ms (${this.buffered.length} bytes read)`);
      await this.more(left);
    }
  }

  /** Whatever arrives until the server closes the connection. */
  async rest(): Promise<Buffer> {
    while (!this.ended) await this.more();
    return this.buffered;
  }

  close(): void {
    this.socket.destroy();
  }
}

const sha256 = (...parts: Uint8Array[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest();

/** python-kasa's generate_auth_hash: md5(md5(username) + md5(password)). */
export function authHashOf(username: string, password: string): Buffer {
  return md5(Buffer.concat([md5(Buffer.from(username)), md5(Buffer.from(password))]));
}

export interface Handshake1 {
  answer: HttpAnswer;
  remoteSeed: Buffer;
  serverHash: Buffer;
  /** The TP_SESSIONID and TIMEOUT the plug set (undefined when none). */
  cookie: string | undefined;
  timeout: string | undefined;
}

/** POST /app/handshake1 with `localSeed`; what came back, read as aiohttp reads the Set-Cookie. */
export async function handshake1(conn: HttpConnection, localSeed: Uint8Array): Promise<Handshake1> {
  const answer = await conn.post("/app/handshake1", localSeed);
  const setCookie = answer.headers.get("set-cookie") ?? "";
  return {
    answer,
    remoteSeed: answer.body.subarray(0, 16),
    serverHash: answer.body.subarray(16),
    cookie: /(?:^|;\s*)TP_SESSIONID=([^;]*)/.exec(setCookie)?.[1],
    timeout: /(?:^|;\s*)TIMEOUT=([^;]*)/.exec(setCookie)?.[1],
  };
}

/** The handshake2 body python-kasa sends: sha256(remote seed + auth hash). */
export function handshake2Body(remoteSeed: Uint8Array, authHash: Uint8Array): Buffer {
  return sha256(remoteSeed, authHash);
}

export function handshake2(conn: HttpConnection, cookie: string | undefined, body: Uint8Array): Promise<HttpAnswer> {
  return conn.post("/app/handshake2", body, cookie === undefined ? {} : { Cookie: `TP_SESSIONID=${cookie}` });
}

/** python-kasa's KlapEncryptionSession. */
export class ClientSession {
  readonly key: Buffer;
  readonly iv: Buffer;
  readonly sig: Buffer;
  seq: number;

  constructor(localSeed: Uint8Array, remoteSeed: Uint8Array, authHash: Uint8Array) {
    this.key = sha256(Buffer.from("lsk"), localSeed, remoteSeed, authHash).subarray(0, 16);
    const iv = sha256(Buffer.from("iv"), localSeed, remoteSeed, authHash);
    this.iv = iv.subarray(0, 12);
    this.seq = iv.readInt32BE(28);
    this.sig = sha256(Buffer.from("ldk"), localSeed, remoteSeed, authHash).subarray(0, 28);
  }

  private seqBytes(seq: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeInt32BE(seq);
    return b;
  }

  /** The body for `plaintext` under `seq` (python-kasa's encrypt, without moving seq). */
  seal(plaintext: Uint8Array, seq: number): Buffer {
    const cipher = createCipheriv("aes-128-cbc", this.key, Buffer.concat([this.iv, this.seqBytes(seq)]));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([sha256(this.sig, this.seqBytes(seq), ciphertext), ciphertext]);
  }

  /** python-kasa's encrypt: the next seq, and the body under it. */
  encrypt(plaintext: Uint8Array): { body: Buffer; seq: number } {
    this.seq = this.seq + 1;
    return { body: this.seal(plaintext, this.seq), seq: this.seq };
  }

  /** python-kasa's decrypt (which does not check the signature: this does). */
  decrypt(body: Uint8Array, seq: number): Buffer {
    const ciphertext = body.subarray(32);
    if (!sha256(this.sig, this.seqBytes(seq), ciphertext).equals(Buffer.from(body.subarray(0, 32)))) throw new Error("answer signature wrong");
    const decipher = createDecipheriv("aes-128-cbc", this.key, Buffer.concat([this.iv, this.seqBytes(seq)]));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }
}

export class KlapError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export interface KlapClient {
  conn: HttpConnection;
  session: ClientSession;
  cookie: string;
  timeout: string | undefined;
  /** Sends `json` (an object, or raw text) as the next request; the parsed answer. Throws KlapError on a status other than 200. */
  request(json: unknown): Promise<any>;
  /** The bytes of the next request for `json` (seq moved on), for a client that writes without reading. */
  raw(json: unknown): Buffer;
  /** The raw answer to a body sent with this seq (crafted requests). */
  post(body: Uint8Array, seq: number | string): Promise<HttpAnswer>;
  close(): void;
}

/**
 * Handshakes as python-kasa does (the plug's proof checked against these credentials: a plug that
 * does not know them throws KlapError "authentication", unless `sendAnyway`, which sends the
 * handshake2 a client with these credentials would and throws with the plug's status), then
 * requests on the same connection.
 */
export async function klapConnect(host: string, port: number, username: string, password: string, sendAnyway = false): Promise<KlapClient> {
  const conn = await HttpConnection.open(host, port);
  try {
    const authHash = authHashOf(username, password);
    const localSeed = randomBytes(16);
    const h1 = await handshake1(conn, localSeed);
    if (h1.answer.status !== 200) throw new KlapError(`handshake1: ${h1.answer.status}`, h1.answer.status);
    if (h1.serverHash.length !== 32 || h1.cookie === undefined) throw new KlapError("handshake1: unexpected answer");
    if (!sha256(localSeed, authHash).equals(h1.serverHash) && !sendAnyway) throw new KlapError("authentication: the plug does not know these credentials");
    const cookie = h1.cookie;
    const h2 = await handshake2(conn, cookie, handshake2Body(h1.remoteSeed, authHash));
    if (h2.status !== 200) throw new KlapError(`handshake2: ${h2.status}`, h2.status);
    const session = new ClientSession(localSeed, h1.remoteSeed, authHash);
    const headers = { Cookie: `TP_SESSIONID=${cookie}` };
    const text = (json: unknown) => Buffer.from(typeof json === "string" ? json : JSON.stringify(json));
    const client: KlapClient = {
      conn, session, cookie, timeout: h1.timeout,
      post: (body, seq) => conn.post(`/app/request?seq=${seq}`, body, headers),
      raw(json) {
        const { body, seq } = session.encrypt(text(json));
        return HttpConnection.request(`/app/request?seq=${seq}`, body, headers);
      },
      async request(json) {
        const { body, seq } = session.encrypt(text(json));
        const answer = await client.post(body, seq);
        if (answer.status !== 200) throw new KlapError(`request: ${answer.status}`, answer.status);
        return JSON.parse(session.decrypt(answer.body, seq).toString("utf8"));
      },
      close: () => conn.close(),
    };
    return client;
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** The CRC-32 of a TDP datagram with its CRC field read as kasa/discover.py's initial_crc (written here, not taken from the plug's). */
function tdpCrc(bytes: Uint8Array): number {
  const copy = Buffer.from(bytes);
  copy.writeUInt32BE(0x5a6b7c8d, 12);
  let crc = 0xffffffff;
  for (const byte of copy) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** python-kasa 0.10.2's discovery probe (_AesDiscoveryQuery.generate_query): the TDP header, then {"params":{"rsa_key": PEM}}. */
export function discoveryProbe(): Buffer {
  const payload = Buffer.from(`{"params": {"rsa_key": "-----BEGIN PUBLIC KEY-----\\n${"A".repeat(392)}\\n-----END PUBLIC KEY-----\\n"}}`);
  const q = Buffer.alloc(16 + payload.length);
  Buffer.from([2, 0, 0, 1, payload.length >> 8, payload.length & 255, 17, 0, 0x12, 0x34, 0x56, 0x78]).copy(q, 0);
  payload.copy(q, 16);
  q.writeUInt32BE(tdpCrc(q), 12);
  return q;
}
