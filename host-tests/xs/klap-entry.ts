// The XS engine check of KLAP: bundled by esbuild into one plain script that runs in xsnap's XS
// worker (host-tests/xs/run-xsnap.mjs), where the core's KLAP code (src/core/klap/klap.ts) runs over
// python-kasa's vectors with the test-only pure-JS crypto (xsnap has no crypto module). The driver's
// one "frame" is the vectors' JSON; the reply is the results' JSON (klap-check.ts), which
// host-tests/xs-engine.test.ts compares with what the vectors expect.

import { utf8Decode, utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import { jsCrypto } from "./js-crypto.js";
import { klapResults, type KlapVectors } from "./klap-check.js";

interface PendingReply {
  result?: ArrayBuffer;
}

const xs = globalThis as typeof globalThis & {
  handleCommand?: (message: ArrayBuffer) => PendingReply;
  startPlug?: (model: string) => void;
  lastError?: () => ArrayBuffer;
  strictCode?: boolean;
};

let lastError = "";
const buffer = (bytes: Uint8Array) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

xs.handleCommand = (message: ArrayBuffer): PendingReply => {
  try {
    const vectors = JSON.parse(utf8Decode(new Uint8Array(message))) as KlapVectors;
    lastError = "";
    return { result: buffer(utf8Encode(JSON.stringify(klapResults(jsCrypto, vectors)))) };
  } catch (e) {
    lastError = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
    return {};
  }
};
// the driver makes a plug before each sequence: there is none here
xs.startPlug = () => {};
xs.lastError = () => buffer(utf8Encode(lastError));
xs.strictCode = (function (this: unknown) {
  return this === undefined;
})();
