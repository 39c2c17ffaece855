// Random bytes from the OS in the simulator (sim-random.c: /dev/urandom), for io-sim.ts. A host
// function needs JavaScript (TypeScript has no syntax for it); sim-random.d.ts types it.

function osRandom(length) @ "xs_plug_os_random";

export function randomBytes(length) {
  return new Uint8Array(osRandom(length));
}
