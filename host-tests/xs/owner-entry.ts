// The XS engine check of the owner's page: bundled by esbuild into one plain script that runs in
// xsnap's XS worker (host-tests/xs/run-xsnap.mjs): the scenario of owner-check.ts with the test-only
// pure-JS crypto (xsnap has no crypto module); its one reply is the scenario's results as JSON.

import { utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import { jsCrypto } from "./js-crypto.js";
import { ownerRun } from "./owner-check.js";
import { arrayBufferOf, failureText, serveDriver, type PendingReply } from "./driver.js";

let lastError = "";

serveDriver(
  (): PendingReply => {
    try {
      lastError = "";
      return { result: arrayBufferOf(utf8Encode(JSON.stringify(ownerRun(jsCrypto)))) };
    } catch (e) {
      lastError = failureText(e);
      return {};
    }
  },
  () => {},
  () => lastError,
);
