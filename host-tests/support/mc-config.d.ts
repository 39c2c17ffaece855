// The SDK's `mc/config` module for `npm run typecheck` of host-tests/moddable-board.test.ts, which
// mocks it (tsconfig.moddable.json resolves the SDK's own typings instead).
declare module "mc/config" {
  const config: Record<string, unknown>;
  export default config;
}
