#!/usr/bin/env node
// Makes the owner's update key: an ECDSA P-256 key pair (node:crypto).
//   npm run keygen                         private key in ~/.config/kasa-plug/update-key.pem (0600),
//                                          public key in keys/update-public.json (commit it: builds read it)
//   npm run keygen -- --private FILE --public FILE
// An existing key is never overwritten: move it away first if you really mean to replace it (every
// plug then needs the new public key by cable, or an update signed with the old key that carries it).

import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY, fail, parseArgs, rawPublicKey } from "./signed-image.mjs";

const { options, words } = parseArgs(process.argv.slice(2), ["private", "public"]);
if (words.length > 0) fail(`keygen takes no file names, only --private FILE and --public FILE (got ${words.join(" ")})`);
const privatePath = resolve(options.private ?? DEFAULT_PRIVATE_KEY);
const publicPath = resolve(options.public ?? DEFAULT_PUBLIC_KEY);
for (const path of [privatePath, publicPath]) {
  if (existsSync(path)) fail(`${path} exists: keygen never replaces a key (plugs trust the one they have); move it away first if you mean to`);
}

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = privateKey.export({ format: "pem", type: "pkcs8" });
mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
try {
  writeFileSync(privatePath, pem, { mode: 0o600, flag: "wx" }); // wx: fails rather than replace one made meanwhile
} catch (e) {
  fail(`${privatePath}: ${e.message}`);
}
mkdirSync(dirname(publicPath), { recursive: true });
const raw = rawPublicKey(publicKey).toString("hex");
writeFileSync(publicPath, JSON.stringify({ curve: "P-256", key: raw }, null, 2) + "\n", { flag: "wx" });
console.log(`private key: ${privatePath} (owner-only: keep it, back it up offline; whoever has it can update your plugs)`);
console.log(`public key:  ${publicPath} (not secret: builds put it into the firmware)`);
