// What `npm run keygen` and `npm run sign` share: where the owner's update key lives, and the
// signed image's header. The format is described (and read) in src/core/update/image.ts; the tests
// hold the two to each other (host-tests/update-sign.test.ts signs here and checks there).

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The private key: outside the repository, so that no `git add`, archive or clean of the work tree
 * takes it; owner-only. `--private FILE` picks another place.
 */
export const DEFAULT_PRIVATE_KEY = join(homedir(), ".config", "kasa-plug", "update-key.pem");
/** The public key: in the repository, committed by the owner, where builds read it. `--public FILE` picks another place. */
export const DEFAULT_PUBLIC_KEY = join(root, "keys", "update-public.json");

export const MAGIC = Buffer.from("KPFW", "latin1");
export const FORMAT = 1;
export const HEADER_BYTES = 44;
export const VERSION_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MAX_IMAGE_BYTES = 0xffffffff;

export function fail(message) {
  console.error(message);
  process.exit(1);
}

/** `--name value` options and the other words; an unknown option or one without its value fails. */
export function parseArgs(argv, known) {
  const options = {};
  const words = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      words.push(a);
      continue;
    }
    const name = a.slice(2);
    if (!known.includes(name)) fail(`unknown option ${a} (known: ${known.map((k) => "--" + k).join(", ")})`);
    const value = argv[++i];
    if (value === undefined || value === "") fail(`${a} needs a value`);
    options[name] = value;
  }
  return { options, words };
}

/** Why a version text cannot go into a header, or undefined when it can. */
export function versionProblem(version) {
  if (version.length < 1 || version.length > VERSION_BYTES) return `the version must be 1 to ${VERSION_BYTES} characters`;
  if (!/^[\x20-\x7e]+$/.test(version)) return "the version must be printable ASCII";
  return undefined;
}

/** The 44-byte header for an image of `length` bytes and this version. */
export function header(length, version) {
  const h = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(h, 0);
  h[4] = FORMAT;
  h.writeUInt32BE(length, 8);
  h.write(version, 12, "latin1");
  return h;
}

/** The 65 uncompressed bytes (0x04, x, y) of a P-256 public KeyObject. */
export function rawPublicKey(key) {
  const jwk = key.export({ format: "jwk" });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
}

/** The package's version: the default version of a signed image. */
export function packageVersion() {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
}
