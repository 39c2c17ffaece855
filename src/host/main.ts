// `npm start`: one virtual Kasa plug on this machine.
//   npm start -- --port 19999 --bind 127.0.0.1 --model HS110 --state-dir DIR

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { PERSONALITIES, findPersonality } from "../core/personality.js";
import { DEFAULT_BIND, DEFAULT_PORT, VirtualPlug } from "./virtual-plug.js";

const USAGE = `Usage: npm start -- [options]

  --port N          TCP and UDP port (default ${DEFAULT_PORT})
  --bind ADDRESS    address to listen on (default ${DEFAULT_BIND}; 0.0.0.0 for the whole LAN)
  --model NAME      personality: ${PERSONALITIES.map((p) => p.key).join(", ")} (default: the stored one, else HS100)
  --state-dir DIR   where identity and settings live (default ./.plug-state/ADDRESS-PORT)
  --power-on MODE   relay at start: last (default), on, off
  --help            this text`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        bind: { type: "string" },
        model: { type: "string" },
        "state-dir": { type: "string" },
        "power-on": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port must be 1-65535, not "${values.port}"`);
  const bind = values.bind ?? DEFAULT_BIND;
  if (values.model !== undefined && findPersonality(values.model) === undefined) fail(`unknown --model "${values.model}"`);
  const powerOn = values["power-on"];
  if (powerOn !== undefined && powerOn !== "last" && powerOn !== "on" && powerOn !== "off") fail(`--power-on must be last, on or off`);
  const stateDir = resolve(values["state-dir"] ?? `.plug-state/${bind.replace(/[^0-9A-Za-z.]/g, "_")}-${port}`);

  let plug: VirtualPlug;
  try {
    plug = await VirtualPlug.start({ port, bind, model: values.model, stateDir, powerOn });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(err.code === "EADDRINUSE" ? `port ${port} on ${bind} is in use (another plug?): pick another with --port` : `cannot start: ${err.message}`);
    process.exit(1);
  }
  plug.log(`listening on TCP and UDP ${bind}:${plug.port}, state in ${stateDir}; Ctrl-C stops`);
  const stop = () => {
    plug.log("stopping");
    plug.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
