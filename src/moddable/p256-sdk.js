// The SDK's ECDSA verification (modules/crypt/etc/ecdsa.js over curve.js, whose point arithmetic is
// native: modules/crypt/arith/ec.c), for p256.ts. JavaScript because the SDK's modules have no
// typings; p256-sdk.d.ts types this one function. Built only where updates are (the manifest's esp32
// platform, src/moddable/manifest_p256.json): an ESP8266 build has none of these modules.
//
// What the SDK does with its arguments (8.2.3): ECDSA takes the public key as an ECPoint and checks
// nothing of it (not that it is on the curve); verify(H, sig) reads r and s as the two 32-byte
// halves of sig, big-endian, and the digest H as an ArrayBuffer, big-endian, unreduced; it never
// checks r and s are in [1, n-1], and compares R.x with r without reducing R.x mod n. p256.ts checks
// the key and the range before it calls this.

import Curve from "curve";
import ECDSA from "ecdsa";
import ECPoint from "ecp";

export function sdkP256Verify(x, y, hash, signature) {
  return new ECDSA(new ECPoint(x, y), new Curve("secp256r1")).verify(hash, signature) === true;
}
