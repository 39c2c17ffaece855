// `npm start`: one virtual Kasa plug on this machine.
//   npm start -- --port 19999 --bind 127.0.0.1 --model HS110 --state-dir DIR
//   npm start -- --factory --wifi networks.json       (an unprovisioned plug, its setup page on :8080)
//   npm start -- --model KP115 --load 1500             (an energy-monitoring plug feeding 1500 W)
//   npm start -- --mode secure --credentials creds.json (KLAP only, as python-kasa and Home Assistant use it)
// The command line is read and checked first (cli.ts): a problem is one line on stderr and exit
// code 2, before anything starts; a plug that cannot start (a port taken) is one line and code 1.

import { parseCommandLine, UsageError, USAGE, type CommandLine } from "./cli.js";
import { DEFAULT_METER_CHIP, DEFAULT_VOLTS, NOTHING_PLUGGED_IN, repeatingProfile } from "./load.js";
import { VirtualPlug } from "./virtual-plug.js";

async function main(): Promise<void> {
  let cl: CommandLine;
  try {
    cl = parseCommandLine(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}; see --help`);
    process.exit(2);
  }
  if (cl.help) {
    console.log(USAGE);
    return;
  }
  const { load } = cl;

  let plug: VirtualPlug;
  try {
    plug = await VirtualPlug.start({
      port: cl.port, bind: cl.bind, model: cl.model, stateDir: cl.stateDir, powerOn: cl.powerOn, networks: cl.networks, httpPort: cl.httpPort,
      dnsPort: cl.dnsPort, factory: cl.factory, noTime: cl.noTime, presenceLock: cl.presenceLock, verbose: cl.verbose,
      mode: cl.mode, credentials: cl.credentials, klapPort: cl.klapPort, discoveryPort: cl.discoveryPort, updateKey: cl.updateKey, ownerPage: cl.ownerPage,
      onboarding: { openSetup: cl.openSetup, fallbackMinutes: cl.fallback },
      load: load && { profile: repeatingProfile(load.points, load.volts), chip: load.chip },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { port?: number };
    const flag =
      err.port !== undefined && err.port === cl.httpPort ? "--http-port"
      : err.port !== undefined && err.port === cl.klapPort ? "--http-port-klap"
      : err.port === cl.dnsPort ? "--dns-port" : "--port";
    console.error(
      err.code === "EADDRINUSE"
        ? `cannot start: ${cl.bind}:${err.port ?? "?"} is in use (another plug?): pick another with ${flag}`
        : `cannot start: ${err.message.split("\n")[0]}`,
    );
    process.exit(1);
  }
  if (load !== undefined) {
    const cycle = load.points.length > 1 ? `, repeating every ${load.points[load.points.length - 1][0]} s` : "";
    plug.log(`load: ${load.description} at ${load.volts} V${cycle}, measured by a simulated ${load.chip} (while the relay is on)`);
  } else if (plug.plug.context.personality.emeter !== "none") {
    plug.log(`load: ${NOTHING_PLUGGED_IN} at ${DEFAULT_VOLTS} V, measured by a simulated ${DEFAULT_METER_CHIP} (--load W plugs something in)`);
  }
  if (process.stdin.isTTY) {
    // The terminal is the plug's button: Enter alone is a short press (it toggles the relay); a
    // number of seconds, then Enter, holds it that long: 3 opens the presence lock for one command
    // (a 2-5 s hold), 6 opens the setup network, 11 wipes the plug.
    plug.log("Enter presses the plug's button; a number of seconds, then Enter, holds it (3: unlock, 6: setup, 11: reset); Ctrl-C stops");
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (line: string) => {
      const seconds = line.trim() === "" ? 0.15 : Number(line.trim());
      if (!(seconds > 0 && seconds <= 15)) {
        plug.log("the button: Enter alone, or a number of seconds (up to 15) to hold it");
        return;
      }
      plug.button.down();
      setTimeout(() => plug.button.up(), seconds * 1000);
    });
  } else plug.log("Ctrl-C stops");
  const stop = () => {
    plug.log("stopping");
    plug.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
