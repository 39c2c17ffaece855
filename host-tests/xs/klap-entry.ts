// The XS engine check of KLAP: bundled by esbuild into one plain script that runs in xsnap's XS
// worker (host-tests/xs/run-xsnap.mjs), where the core's KLAP code (src/core/klap/klap.ts) runs over
// python-kasa's vectors with the test-only pure-JS crypto (xsnap has no crypto module). The driver's
// one "frame" is the vectors' JSON; the reply is the results' JSON (klap-check.ts), which
// host-tests/xs-engine.test.ts compares with what the vectors expect.

import { utf8Decode, utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import { jsCrypto } from "./js-crypto.js";
import { klapResults, type KlapVectors } from "./klap-check.js";
import { arrayBufferOf, failureText, serveDriver, type PendingReply } from "./driver.js";

let lastError = "";

// the driver makes a plug before each sequence: there is none here
serveDriver(
  (message: ArrayBuffer): PendingReply => {
    try {
      const vectors = JSON.parse(utf8Decode(new Uint8Array(message))) as KlapVectors;
      lastError = "";
      return { result: arrayBufferOf(utf8Encode(JSON.stringify(klapResults(jsCrypto, vectors)))) };
    } catch (e) {
      lastError = failureText(e);
      return {};
    }
  },
  () => {},
  () => lastError,
);
