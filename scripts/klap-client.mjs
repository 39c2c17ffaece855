// A small KLAP client for the scripts (scripts/chip-memory.mjs drives a plug with it), ported from
// host-tests/support/klap-client.ts (written from python-kasa's kasa/transports/klaptransport.py)
// with node:crypto: handshake1 (the plug's proof checked), handshake2, then encrypted requests on
// one keep-alive HTTP/1.1 connection, as python-kasa over aiohttp. Also python-kasa's discovery
// probe for UDP 20002 (kasa/discover.py _AesDiscoveryQuery) and the CRC it carries.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";

const sha256 = (...parts) => createHash("sha256").update(Buffer.concat(parts)).digest();
const md5 = (b) => createHash("md5").update(b).digest();

/** python-kasa's generate_auth_hash: md5(md5(username) + md5(password)). */
export function authHashOf(username, password) {
  return md5(Buffer.concat([md5(Buffer.from(username)), md5(Buffer.from(password))]));
}

/** One HTTP/1.1 connection on a raw socket: requests written as given, answers parsed as they arrive. */
export class HttpConnection {
  constructor(socket) {
    this.socket = socket;
    this.buffered = Buffer.alloc(0);
    this.waiting = null;
    this.ended = false;
    socket.on("data", (chunk) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    socket.on("close", end);
    socket.on("end", end);
    socket.on("error", () => {});
  }

  static open(host, port) {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, allowHalfOpen: true });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new HttpConnection(socket));
      });
    });
  }

  wake() {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  /** The head and body of a POST of `body` to `path`, as aiohttp writes it. */
  static request(path, body, headers = {}) {
    let head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nUser-Agent: klap-client\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += `Content-Length: ${body.length}\r\nContent-Type: application/octet-stream\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, "latin1"), body]);
  }

  /** POSTs `body` to `path`; the answer, or a rejection after `ms` or when the connection ends first. */
  post(path, body, headers = {}, ms = 10000) {
    this.socket.write(HttpConnection.request(path, body, headers));
    return this.read(ms);
  }

  async read(ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buffered.indexOf("\r\n\r\n");
      if (end >= 0) {
        const lines = this.buffered.subarray(0, end).toString("latin1").split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(lines[0])?.[1] ?? NaN);
        const headers = new Map();
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
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => (clearTimeout(timer), resolve());
      });
    }
  }

  close() {
    this.socket.destroy();
  }
}

/** python-kasa's KlapEncryptionSession. */
export class ClientSession {
  constructor(localSeed, remoteSeed, authHash) {
    this.key = sha256(Buffer.from("lsk"), localSeed, remoteSeed, authHash).subarray(0, 16);
    const iv = sha256(Buffer.from("iv"), localSeed, remoteSeed, authHash);
    this.iv = iv.subarray(0, 12);
    this.seq = iv.readInt32BE(28);
    this.sig = sha256(Buffer.from("ldk"), localSeed, remoteSeed, authHash).subarray(0, 28);
  }
  seqBytes(seq) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(seq);
    return b;
  }
  seal(plaintext, seq) {
    const cipher = createCipheriv("aes-128-cbc", this.key, Buffer.concat([this.iv, this.seqBytes(seq)]));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([sha256(this.sig, this.seqBytes(seq), ciphertext), ciphertext]);
  }
  /** python-kasa's encrypt: the next seq, and the body under it. */
  encrypt(plaintext) {
    this.seq = this.seq + 1;
    return { body: this.seal(plaintext, this.seq), seq: this.seq };
  }
  /** python-kasa's decrypt, with the signature checked. */
  decrypt(body, seq) {
    const ciphertext = body.subarray(32);
    if (!sha256(this.sig, this.seqBytes(seq), ciphertext).equals(Buffer.from(body.subarray(0, 32)))) throw new Error("KLAP: answer signature wrong");
    const decipher = createDecipheriv("aes-128-cbc", this.key, Buffer.concat([this.iv, this.seqBytes(seq)]));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }
}

export class KlapError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** handshake1 on `conn` with `localSeed`: the answer, the plug's seed and proof, the cookie. */
export async function handshake1(conn, localSeed) {
  const answer = await conn.post("/app/handshake1", localSeed);
  const setCookie = answer.headers.get("set-cookie") ?? "";
  return {
    answer,
    remoteSeed: answer.body.subarray(0, 16),
    serverHash: answer.body.subarray(16),
    cookie: /(?:^|;\s*)TP_SESSIONID=([^;]*)/.exec(setCookie)?.[1],
  };
}

/**
 * Handshakes as python-kasa does (the plug's proof checked: a plug that does not know these
 * credentials throws KlapError "authentication" unless `sendAnyway`, which sends the handshake2 a
 * client with these credentials would and throws with the plug's status), then requests on the same connection.
 */
export async function klapConnect(host, port, username, password, sendAnyway = false) {
  const conn = await HttpConnection.open(host, port);
  try {
    const authHash = authHashOf(username, password);
    const localSeed = randomBytes(16);
    const h1 = await handshake1(conn, localSeed);
    if (h1.answer.status !== 200) throw new KlapError(`handshake1: ${h1.answer.status}`, h1.answer.status);
    if (h1.serverHash.length !== 32 || h1.cookie === undefined) throw new KlapError("handshake1: unexpected answer");
    if (!sha256(localSeed, authHash).equals(h1.serverHash) && !sendAnyway) throw new KlapError("authentication: the plug does not know these credentials");
    const cookie = h1.cookie;
    const h2 = await conn.post("/app/handshake2", sha256(h1.remoteSeed, authHash), { Cookie: `TP_SESSIONID=${cookie}` });
    if (h2.status !== 200) throw new KlapError(`handshake2: ${h2.status}`, h2.status);
    const session = new ClientSession(localSeed, h1.remoteSeed, authHash);
    const headers = { Cookie: `TP_SESSIONID=${cookie}` };
    return {
      conn,
      session,
      cookie,
      /** The bytes of the next request for `json` (seq moved on), for a client that writes without reading. */
      raw(json) {
        const { body, seq } = session.encrypt(Buffer.from(typeof json === "string" ? json : JSON.stringify(json)));
        return HttpConnection.request(`/app/request?seq=${seq}`, body, headers);
      },
      /** The raw answer to a body sent with this seq (a replayed one, say). */
      post: (body, seq) => conn.post(`/app/request?seq=${seq}`, body, headers),
      async request(json) {
        const { body, seq } = session.encrypt(Buffer.from(typeof json === "string" ? json : JSON.stringify(json)));
        const answer = await conn.post(`/app/request?seq=${seq}`, body, headers);
        if (answer.status !== 200) throw new KlapError(`request: ${answer.status}`, answer.status);
        return JSON.parse(session.decrypt(answer.body, seq).toString("utf8"));
      },
      close: () => conn.close(),
    };
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** The CRC-32 of a TDP datagram with its CRC field read as kasa/discover.py's initial_crc. */
function tdpCrc(bytes) {
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
export function discoveryProbe() {
  const payload = Buffer.from(`{"params": {"rsa_key": "-----BEGIN PUBLIC KEY-----\\n${"A".repeat(392)}\\n-----END PUBLIC KEY-----\\n"}}`);
  const q = Buffer.alloc(16 + payload.length);
  Buffer.from([2, 0, 0, 1, payload.length >> 8, payload.length & 255, 17, 0, 0x12, 0x34, 0x56, 0x78]).copy(q, 0);
  payload.copy(q, 16);
  q.writeUInt32BE(tdpCrc(q), 12);
  return q;
}
