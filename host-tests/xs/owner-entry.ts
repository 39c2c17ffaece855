// The XS engine check of the owner's page: bundled by esbuild into one plain script that runs in
// xsnap's XS worker (host-tests/xs/run-xsnap.mjs), with the test-only pure-JS crypto (xsnap has no
// crypto module). A sequence named "run" has one frame: its reply is owner-check.ts's whole scenario
// as JSON. Otherwise startPlug makes a plug with the owner's page ("page") or without it ("none"),
// and each frame is one step on it (0 the page, 1 the log-in, 2 the relay switched, 3 the status),
// so that the driver can measure what the page keeps live.

import { utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import { jsCrypto } from "./js-crypto.js";
import { OwnerScenario, ownerRun } from "./owner-check.js";
import { arrayBufferOf, failureText, serveDriver, type PendingReply } from "./driver.js";

let lastError = "";
let scenario: OwnerScenario | null = null;
let page = false;

function step(n: number): string {
  const s = scenario!;
  if (!page) return "-"; // (the driver takes an empty reply for a failure)
  if (n === 0) return String(s.page().status);
  if (n === 1) return JSON.stringify(s.logIn());
  if (n === 2) return s.request("kasa", utf8Encode(JSON.stringify({ system: { set_relay_state: { state: 1 } } }))).body;
  return s.request("status", new Uint8Array(0)).body;
}

serveDriver(
  (message: ArrayBuffer): PendingReply => {
    try {
      lastError = "";
      const n = new Uint8Array(message)[0];
      const text = scenario === null ? JSON.stringify(ownerRun(jsCrypto)) : step(n);
      return { result: arrayBufferOf(utf8Encode(text)) };
    } catch (e) {
      lastError = failureText(e);
      return {};
    }
  },
  (model: string) => {
    scenario?.stop();
    scenario = model === "run" ? null : new OwnerScenario(jsCrypto, model === "page");
    page = model === "page";
  },
  () => lastError,
);
