// A stand-in for the SDK's ECDSA modules (modules/crypt/etc/ecdsa.js, curve.js, modules/crypt/arith/
// ecp.js; SDK 8.2.3) in plain BigInt arithmetic, for the tests of src/moddable/p256.ts without the SDK
// (CI has none). It does what the SDK does with its arguments, no more: the key is any point (not
// checked to be on the curve), r and s are the signature's halves read big-endian and never range
// checked, the digest must be a whole ArrayBuffer (BigInt.fromArrayBuffer), R.x is compared with r
// unreduced. `npm run sim:crypto` runs the real natives in the simulator.
//   vi.mock("ecdsa", () => import("./support/sdk-ecdsa.js").then((m) => ({ default: m.ECDSA })))
// and likewise "curve" (Curve) and "ecp" (ECPoint).

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const A = P - 3n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

/** How often the SDK's verify was reached (p256.ts must not hand it what it was not written for). */
export const sdkCalls = { verify: 0 };

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

/** a⁻¹ mod m (extended Euclid); 0 for 0, as the SDK's mulinv gives nothing better. */
function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  if (r0 === 0n) return 0n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

export class ECPoint {
  z: bigint;
  constructor(
    public x: bigint,
    public y: bigint,
    identity = false,
  ) {
    this.z = identity ? 0n : 1n;
  }
  get X(): bigint {
    return this.x;
  }
  get Y(): bigint {
    return this.y;
  }
}

const IDENTITY = new ECPoint(0n, 0n, true);

function add(p: ECPoint, q: ECPoint): ECPoint {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  let l: bigint;
  if (p.x === q.x) {
    if (mod(p.y + q.y, P) === 0n) return IDENTITY;
    l = mod((3n * p.x * p.x + A) * inverse(2n * p.y, P), P);
  } else {
    l = mod((q.y - p.y) * inverse(q.x - p.x, P), P);
  }
  const x = mod(l * l - p.x - q.x, P);
  return new ECPoint(x, mod(l * (p.x - x) - p.y, P));
}

function mul(p: ECPoint, k: bigint): ECPoint {
  let result = IDENTITY;
  let addend = p;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

class EC {
  mul2(a1: ECPoint, k1: bigint, a2: ECPoint, k2: bigint): ECPoint {
    return add(mul(a1, k1), mul(a2, k2));
  }
}

export class Curve {
  G = new ECPoint(GX, GY);
  ec = new EC();
  n = N;
  orderSize = 32;
  constructor(name: string) {
    if (name !== "secp256r1") throw new Error("this stand-in knows P-256 only");
  }
}

/** BigInt.fromArrayBuffer: an ArrayBuffer only, big-endian. */
function fromArrayBuffer(buffer: unknown): bigint {
  if (!(buffer instanceof ArrayBuffer)) throw new TypeError("BigInt.fromArrayBuffer: no array buffer");
  return BigInt(`0x${Buffer.from(buffer).toString("hex") || "0"}`);
}

/** PKCS1.OS2IP: an ArrayBuffer, or a Uint8Array copied out of its buffer. */
function os2ip(os: ArrayBuffer | Uint8Array): bigint {
  return fromArrayBuffer(os instanceof Uint8Array ? os.buffer.slice(os.byteOffset, os.byteOffset + os.byteLength) : os);
}

export class ECDSA {
  constructor(
    private readonly u: ECPoint,
    private readonly curve: Curve,
  ) {}
  verify(H: ArrayBuffer, sig: ArrayBuffer | Uint8Array): boolean {
    sdkCalls.verify++;
    const l = this.curve.orderSize;
    const r = os2ip(sig.slice(0, l));
    const s = os2ip(sig.slice(l, l * 2));
    const e = fromArrayBuffer(H);
    const n = this.curve.n;
    const sInv = inverse(s, n);
    const R = this.curve.ec.mul2(this.curve.G, mod(e * sInv, n), this.u, mod(r * sInv, n));
    return R.X === r;
  }
}
