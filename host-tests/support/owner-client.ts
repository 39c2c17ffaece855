// The owner's page client the tests use: src/host/owner-client.ts (built into dist for the chip check too).
export * from "../../src/host/owner-client.js";
