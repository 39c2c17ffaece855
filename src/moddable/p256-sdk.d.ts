/**
 * The SDK's ECDSA P-256 check (p256-sdk.js): the public key's coordinates, the SHA-256 digest (32
 * bytes, a whole ArrayBuffer) and the signature (r then s, 32 bytes each). Checks nothing itself:
 * the key must be on the curve and r, s in [1, n-1] (p256.ts makes sure). May throw.
 */
export declare function sdkP256Verify(x: bigint, y: bigint, hash: ArrayBuffer, signature: Uint8Array): boolean;
