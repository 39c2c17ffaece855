// The recent log lines the owner's page shows: every line that passes the plug's one log limiter
// (ThrottledLog: escaped, at most LOG_LINES_PER_MINUTE a minute) is kept, newest last, in one
// Uint8Array of limits.ownerLogBytes (a few hundred bytes on a device), the oldest whole lines
// dropped to make room. Nothing else is allocated per line but its UTF-8 bytes while it is copied
// in. It holds no secrets because the log never does (ports.ts LogPort): the setup network's
// passphrase goes straight to the port, around the limiter, and never reaches it.

import type { LogPort } from "../../ports/ports.js";
import type { JsonOut, JsonWritable } from "../protocol/wire/json-out.js";
import { utf8Decode, utf8Encode } from "../protocol/wire/utf8.js";

const LF = 10;

export class LogRing implements JsonWritable {
  private readonly bytes: Uint8Array;
  /** Bytes in use: whole lines, each ending in LF, from the start. */
  private fill = 0;

  constructor(
    size: number,
    /** Where each line goes on to (the platform's log). */
    private readonly next: LogPort,
  ) {
    this.bytes = new Uint8Array(size < 16 ? 16 : size);
  }

  /** The limiter's output: kept, then passed on. */
  line(text: string): void {
    this.add(text);
    this.next(text);
  }

  /** Keeps one line (cut at a character boundary to half the ring, so that two always fit), dropping the oldest to make room. */
  add(text: string): void {
    const bytes = this.bytes;
    const line = utf8Encode(text);
    let n = line.length;
    const max = (bytes.length >> 1) - 1;
    if (n > max) {
      n = max;
      while (n > 0 && (line[n] & 0xc0) === 0x80) n--; // not inside a character
    }
    const need = n + 1;
    if (this.fill + need > bytes.length) {
      // drop whole lines from the front until it fits
      let cut = 0;
      while (cut < this.fill && this.fill - cut + need > bytes.length) {
        const lf = bytes.indexOf(LF, cut);
        cut = lf < 0 ? this.fill : lf + 1;
      }
      bytes.copyWithin(0, cut, this.fill);
      this.fill -= cut;
    }
    bytes.set(n === line.length ? line : line.subarray(0, n), this.fill);
    this.fill += n;
    bytes[this.fill++] = LF;
  }

  /** The lines as one JSON string, oldest first, each ending in "\n". */
  writeJson(out: JsonOut): void {
    out.stringBytes(this.bytes, 0, this.fill);
  }

  /** The lines as text (tests). */
  text(): string {
    return utf8Decode(this.bytes.subarray(0, this.fill));
  }
}
