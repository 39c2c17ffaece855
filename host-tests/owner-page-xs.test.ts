// The owner's page in the XS engine (xsnap, as host-tests/xs-engine.test.ts runs the core): the
// scenario of host-tests/xs/owner-check.ts (the page, a log-in without the password, a MAC'd Kasa
// request switching the relay, the status with the recent log lines, a replay, a cross-site request
// and a wrong password refused) gives in XS exactly what it gives on Node.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ensureXsnap } from "../scripts/xsnap.mjs";
import { nodeCrypto } from "../src/host/crypto.js";
import { OWNER_PAGE } from "../src/core/owner/page.js";
import { bundleFor, runDriver } from "./support/xs-run.js";
import { jsCrypto } from "./xs/js-crypto.js";
import { ownerRun, type OwnerRun } from "./xs/owner-check.js";

const ENTRY = fileURLToPath(new URL("./xs/owner-entry.ts", import.meta.url));
const TIMEOUT_MS = 60_000;

/** Why the XS engine cannot run here (one line), or undefined once its worker is built. */
const notBuilt = await ensureXsnap().then(() => undefined, (error: Error) => error);

async function inXs(): Promise<OwnerRun> {
  const dir = mkdtempSync(join(tmpdir(), "kasa-xs-owner-"));
  try {
    const bundle = join(dir, "owner.js");
    await bundleFor(ENTRY, bundle);
    const corpusFile = join(dir, "corpus.json");
    writeFileSync(corpusFile, JSON.stringify([{ name: "owner", model: "run", frames: ["00"] }]));
    const output = await runDriver<{ sequences: { answers: string[] }[] }>(bundle, corpusFile, TIMEOUT_MS - 10_000);
    return JSON.parse(Buffer.from(output.sequences[0].answers[0], "hex").toString("utf8")) as OwnerRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the owner's page in the XS engine", { timeout: TIMEOUT_MS }, () => {
  it("serves, logs in, acts and refuses in XS exactly as on Node", async () => {
    if (notBuilt !== undefined) throw notBuilt; // (CI builds the worker: the check fails, never skips, without it)
    const node = ownerRun(nodeCrypto);
    expect(node).toMatchObject({
      page: { status: 200, bytes: OWNER_PAGE.join("").length }, hello: 200, login: 200, relay: true, replay: 403, crossSite: 403, wrongPassword: 403,
      relayAnswer: '{"system":{"set_relay_state":{"err_code":0}}}',
    });
    expect(JSON.parse(node.status).log).toContain("owner page: logged in from 192.168.1.20\n");
    expect(ownerRun(jsCrypto)).toEqual(node); // (the test-only crypto XS uses agrees)
    expect(await inXs()).toEqual(node);
  });
});
