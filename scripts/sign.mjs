#!/usr/bin/env node
// Signs a firmware image for an update over the air (format: src/core/update/image.ts).
//   npm run sign -- image.bin                          writes image.bin.signed
//   npm run sign -- image.bin --key FILE --version TEXT --out FILE
// The key is `npm run keygen`'s private key (default ~/.config/kasa-plug/update-key.pem). The version
// (1-32 printable ASCII characters) defaults to a host image's own "version", else package.json's.

import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_PRIVATE_KEY, MAX_IMAGE_BYTES, fail, header, packageVersion, parseArgs, versionProblem } from "./signed-image.mjs";

const { options, words } = parseArgs(process.argv.slice(2), ["key", "version", "out"]);
if (words.length !== 1) fail("usage: npm run sign -- image.bin [--key FILE] [--version TEXT] [--out FILE]");
const imagePath = resolve(words[0]);
const keyPath = resolve(options.key ?? DEFAULT_PRIVATE_KEY);
const out = resolve(options.out ?? imagePath + ".signed");

let image;
try {
  image = readFileSync(imagePath);
} catch (e) {
  fail(`${imagePath}: ${e.message}`);
}
if (image.length === 0) fail(`${imagePath} is empty`);
if (image.length > MAX_IMAGE_BYTES) fail(`${imagePath} is too large for the format`);

let key;
try {
  key = createPrivateKey(readFileSync(keyPath));
} catch (e) {
  fail(`${keyPath}: ${e.code === "ENOENT" ? "no key there: make one with npm run keygen, or name it with --key" : e.message}`);
}
if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") fail(`${keyPath} is not a P-256 key (npm run keygen makes one)`);

/** A host image's own version (src/host/update.ts: a JSON object with "version"), if it is one. */
function hostImageVersion() {
  try {
    const v = JSON.parse(image.toString("utf8")).version;
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

const version = options.version ?? hostImageVersion() ?? packageVersion();
const problem = versionProblem(version);
if (problem !== undefined) fail(`version "${version}": ${problem}`);

const signed = Buffer.concat([header(image.length, version), image]);
const signature = sign("sha256", signed, { key, dsaEncoding: "ieee-p1363" });
if (!verify("sha256", signed, { key: createPublicKey(key), dsaEncoding: "ieee-p1363" }, signature)) fail("the signature does not verify (a broken key?)");
writeFileSync(out, Buffer.concat([signed, signature]));
console.log(`signed ${imagePath} (${image.length} bytes, version ${version}) -> ${out}`);
