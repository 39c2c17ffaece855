// The captive-portal DNS answer (RFC 1035 §4.1) given while the plug's setup Wi-Fi network is up: every
// A query for any name resolves to the plug's own IPv4 address, so a phone that joins the network
// opens the setup page. Queries come straight off the network: anything malformed is dropped, never
// thrown on, and the only allocation is the response itself.

/** Largest query handled (classic DNS over UDP). */
export const MAX_DNS_QUERY_BYTES = 512;

/** TTL of the answers, seconds (short: once the plug leaves setup the names must resolve normally again). */
export const CAPTIVE_TTL_SECONDS = 60;

const HEADER_BYTES = 12;
const MAX_LABEL_BYTES = 63;
/** A name on the wire, length octets and the final zero included (RFC 1035 §2.3.4). */
const MAX_NAME_BYTES = 255;
/** The answer record after the question: pointer, type, class, TTL, RDLENGTH, 4 address bytes. */
const ANSWER_BYTES = 16;

const TYPE_A = 1;
const TYPE_ANY = 255;
const CLASS_IN = 1;
const RCODE_NOTIMP = 4;

/**
 * The answer to one DNS query datagram, or undefined when it must be dropped. `address` is 4 bytes (IPv4).
 *
 * Dropped: datagrams shorter than the header or longer than MAX_DNS_QUERY_BYTES, responses (QR set),
 * QDCOUNT other than 1, and a question whose name is malformed (a label over 63 bytes, a name over
 * 255, compression, running past the end) or lacks QTYPE/QCLASS. A well-formed query with a non-zero
 * opcode gets NOTIMP with its question echoed. A standard query of type A or ANY, class IN, gets one
 * A record with `address`; any other type or class gets NOERROR without answers, so clients fall
 * back to A. Records after the question (EDNS OPT included) are ignored: the response has none.
 */
export function captiveAnswer(query: Uint8Array, address: Uint8Array): Uint8Array | undefined {
  if (address.length !== 4) throw new RangeError("captive DNS address must be 4 bytes");
  const length = query.length;
  if (length < HEADER_BYTES || length > MAX_DNS_QUERY_BYTES) return undefined;
  const flags = query[2];
  if (flags & 0x80) return undefined;
  if (query[4] !== 0 || query[5] !== 1) return undefined;

  // The question's name: labels up to the root label, uncompressed.
  let i = HEADER_BYTES;
  for (;;) {
    if (i >= length) return undefined;
    const label = query[i];
    if (label > MAX_LABEL_BYTES) return undefined; // compression pointer (0xC0) or a reserved label type
    i += 1 + label;
    if (i - HEADER_BYTES > MAX_NAME_BYTES) return undefined;
    if (label === 0) break;
  }
  const questionEnd = i + 4;
  if (questionEnd > length) return undefined;
  const qtype = (query[i] << 8) | query[i + 1];
  const qclass = (query[i + 2] << 8) | query[i + 3];

  const opcode = (flags >> 3) & 0x0f;
  const answered = opcode === 0 && qclass === CLASS_IN && (qtype === TYPE_A || qtype === TYPE_ANY);
  const out = new Uint8Array(answered ? questionEnd + ANSWER_BYTES : questionEnd);
  out[0] = query[0];
  out[1] = query[1];
  if (opcode !== 0) {
    out[2] = 0x80 | (flags & 0x79); // QR, the opcode and RD copied; AA and TC clear
    out[3] = RCODE_NOTIMP;
  } else {
    out[2] = 0x84 | (flags & 0x01); // QR, AA, RD copied
    out[3] = 0; // RA clear, NOERROR
  }
  out[5] = 1; // QDCOUNT
  out[7] = answered ? 1 : 0; // ANCOUNT; NSCOUNT and ARCOUNT stay 0
  for (let j = HEADER_BYTES; j < questionEnd; j++) out[j] = query[j];
  if (answered) {
    let o = questionEnd;
    out[o++] = 0xc0; // the name: a pointer to the question's, at offset 12
    out[o++] = HEADER_BYTES;
    out[o++] = 0;
    out[o++] = TYPE_A;
    out[o++] = 0;
    out[o++] = CLASS_IN;
    out[o++] = (CAPTIVE_TTL_SECONDS >>> 24) & 0xff;
    out[o++] = (CAPTIVE_TTL_SECONDS >>> 16) & 0xff;
    out[o++] = (CAPTIVE_TTL_SECONDS >>> 8) & 0xff;
    out[o++] = CAPTIVE_TTL_SECONDS & 0xff;
    out[o++] = 0;
    out[o++] = 4; // RDLENGTH
    for (let j = 0; j < 4; j++) out[o++] = address[j];
  }
  return out;
}

/**
 * "192.168.4.1" -> 4 bytes; undefined when not a dotted-quad IPv4 address. Each part is 0-255 in
 * plain decimal; a leading zero ("01.2.3.4") is refused, as Node's net.isIPv4 does, because other
 * parsers read it as octal.
 */
export function ipv4Bytes(text: string): Uint8Array | undefined {
  // At most 15 characters, checked first: charCodeAt on XS's UTF-8 strings scans from the start, so it
  // is only ever run over a short string.
  const length = text.length;
  if (length < 7 || length > 15) return undefined;
  let whole = 0; // the finished parts, big-endian
  let value = 0;
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return undefined;
      whole = whole * 256 + value;
      value = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 0x30);
      if (value > 255) return undefined;
      digits++;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  const out = new Uint8Array(4);
  out[0] = (whole >>> 16) & 0xff;
  out[1] = (whole >>> 8) & 0xff;
  out[2] = whole & 0xff;
  out[3] = value;
  return out;
}
