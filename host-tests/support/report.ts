// Figures a test measures on the way (footprints, fuzz statistics, XS timings): printed only with
// TEST_REPORT=1 (`TEST_REPORT=1 npx vitest run host-tests/fuzz-socket.test.ts`), so that a passing
// `npm test` prints nothing but vitest's own lines.

export function report(text: string): void {
  if (process.env.TEST_REPORT) console.log(text);
}
