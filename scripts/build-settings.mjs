// What a Moddable build of the plug is told besides its manifest (scripts/moddable.mjs), as mcconfig's
// name=value arguments, which land in the build's top-level config (src/moddable/board.ts,
// buildSetting, reads them):
//   firmwareVersion=<package.json's version>   every build: the version the plug reports
//   updateKey=<130 hex digits>                  an ESP32 build, from keys/update-public.json
//                                               (npm run keygen) when there is one: the owner's
//                                               public key, which every update must be signed for
// No key file: the ESP32 build takes no updates (said when building). A key file that is not a
// P-256 public key stops the build (a plug built with no key could not be updated but by cable).

import { createPublicKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { versionProblem } from "./signed-image.mjs";

/** The key's hex when `file` holds keygen's {"curve": "P-256", "key": "04..."} and the point is on the curve; else throws. */
export function publicKeyHex(file) {
  let value;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
  const key = value?.key;
  if (value?.curve !== "P-256" || typeof key !== "string" || !/^04[0-9a-fA-F]{128}$/.test(key)) {
    throw new Error(`${file} is not an update public key (npm run keygen makes one: {"curve": "P-256", "key": "04..."})`);
  }
  const raw = Buffer.from(key, "hex");
  try {
    createPublicKey({ key: { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33).toString("base64url") }, format: "jwk" });
  } catch {
    throw new Error(`${file}: the key is not a point on P-256`);
  }
  return key.toLowerCase();
}

/**
 * The name=value arguments for a build for `target` ("lin", "esp32", "esp") of the project at
 * `root`, and what to say about them.
 */
export function buildSettings(target, root) {
  const args = [];
  const notes = [];
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  if (typeof version === "string" && versionProblem(version) === undefined) args.push(`firmwareVersion=${version}`);
  if (target !== "esp32") return { args, notes };
  const file = join(root, "keys", "update-public.json");
  if (!existsSync(file)) {
    notes.push(`no ${relative(root, file)}: this build takes no updates over the air (npm run keygen makes the owner's key; build again after)`);
  } else {
    args.push(`updateKey=${publicKeyHex(file)}`);
    notes.push(`update key: ${relative(root, file)} (the plug takes only images signed with its private key)`);
  }
  return { args, notes };
}
