// The SDK's `crypt` module for `npm run typecheck` (tsconfig.moddable.json, and tsconfig.json for
// host-tests/moddable-crypto.test.ts, which stands in for it): the npm typings have none.
// src/moddable/crypto.ts declares the part it uses (CryptModule) and casts the import to it, because
// the SDK's own typings/crypt.d.ts, which mcconfig's build resolves "crypt" to, declares only Digest,
// with string or ArrayBuffer writes.
declare module "crypt";
