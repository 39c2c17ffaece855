#!/usr/bin/env node
// The benchmark's peer in its own process (so that its RSS and CPU are its alone):
// tplink-smarthome-simulator's Device, as tplink-smarthome-api's own tests use it.
//   node scripts/bench-simulator.mjs --port N [--model hs110]
// Prints "READY <port>" once TCP and UDP are bound. Socket errors the simulator reports (it emits
// them as 'error' events, which would otherwise end the process) are printed on stderr as
// "simulator error: ..." so that the bench can count them.

import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string" }, model: { type: "string" } } });
const require = createRequire(import.meta.url);
const { Device } = require("tplink-smarthome-simulator");

const device = new Device({ model: values.model ?? "hs110", port: Number(values.port ?? 0), address: "127.0.0.1" });
device.deviceNetworking.on("error", (e) => console.error(`simulator error: ${e?.code ?? ""} ${e?.message ?? e}`));
await device.start();
console.log(`READY ${device.port}`);
const stop = () => device.stop().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
