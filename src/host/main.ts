// `npm start`: one virtual Kasa plug on this machine.
//   npm start -- --port 19999 --bind 127.0.0.1 --model HS110 --state-dir DIR
//   npm start -- --factory --wifi networks.json       (an unprovisioned plug, its setup page on :8080)
//   npm start -- --model KP115 --load 1500             (an energy-monitoring plug feeding 1500 W)

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { PERSONALITIES, findPersonality } from "../core/personality.js";
import { DEFAULT_METER_CHIP, DEFAULT_VOLTS, MAX_POINTS, METER_CHIPS, METERING_MODELS, NOTHING_PLUGGED_IN, parseLoadArgs, repeatingProfile, type LoadSpec } from "./load.js";
import { DEFAULT_BIND, DEFAULT_HTTP_PORT, DEFAULT_PORT, VirtualPlug } from "./virtual-plug.js";
import { PLUG_FILES } from "./store.js";
import { loadNetworks, type VirtualNetwork } from "./wifi.js";

const USAGE = `Usage: npm start -- [options]

  --port N          TCP and UDP port (default ${DEFAULT_PORT})
  --bind ADDRESS    address to listen on (default ${DEFAULT_BIND}; 0.0.0.0 for the whole LAN)
  --model NAME      personality: ${PERSONALITIES.map((p) => p.key).join(", ")} (default: the stored one, else HS100)
  --state-dir DIR   where identity and settings live (default ./.plug-state/ADDRESS-PORT), owner-only;
                    one plug at a time
  --power-on MODE   relay at start: last (default), on, off, or schedule (last, then the last
                    schedule action due today once the time is known)
  --no-time         start without a time source, like a plug with no internet: rule changes answer
                    -11 "time not sync" until a client sets the time (the Kasa app's set_timezone)
  --no-presence-lock
                    let the LAN reset the plug, move it to another Wi-Fi network and change its identity
                    without the button's unlock gesture (Enter in this terminal is the button)
  --factory         start unprovisioned (Wi-Fi and settings wiped, identity kept): the setup network opens
  --wifi FILE       the networks in range of the virtual radio: a JSON list of
                    {"ssid": "Home", "key_type": 3, "rssi": -50, "password": "the one that works"}
                    (default: HomeNetwork / "correct horse battery", Neighbour-2G, CafeGuest)
  --http-port N     the setup page's port while the setup network is up (default ${DEFAULT_HTTP_PORT})
  --dns-port N      answer captive-portal DNS on this UDP port while in setup (default: off)
  --open-setup      an OPEN setup network (for the stock Kasa app; anyone in range can read what is sent)
  --fallback MIN    open the setup network after MIN minutes offline (default: never)
  --load W|FILE     what is plugged in, for the energy meter (${METERING_MODELS.join(", ")} only): constant
                    watts (--load 60), or a file of watts over time (examples/load-washing-machine.txt):
                    lines "seconds watts" or "seconds,watts", # comments, times ascending, at most
                    ${MAX_POINTS} points; or JSON [[seconds, watts], ...]. Each value holds until the next
                    time; the last line's time ends the cycle, which repeats (its watts are not used).
                    The load draws power only while the relay is on. Without --load nothing is
                    plugged in: 0 W, and the meter still reads the mains voltage
  --volts V         the mains voltage the meter sees (default ${DEFAULT_VOLTS})
  --meter CHIP      the simulated meter chip: ${METER_CHIPS.join(", ")}
                    (default ${DEFAULT_METER_CHIP})
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
        factory: { type: "boolean" },
        wifi: { type: "string" },
        "http-port": { type: "string" },
        "dns-port": { type: "string" },
        "open-setup": { type: "boolean" },
        fallback: { type: "string" },
        "no-time": { type: "boolean" },
        "no-presence-lock": { type: "boolean" },
        load: { type: "string" },
        volts: { type: "string" },
        meter: { type: "string" },
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
  if (powerOn !== undefined && powerOn !== "last" && powerOn !== "on" && powerOn !== "off" && powerOn !== "schedule") fail(`--power-on must be last, on, off or schedule`);
  const portOption = (name: "http-port" | "dns-port"): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--${name} must be 0-65535, not "${v}"`);
    return n;
  };
  const httpPort = portOption("http-port");
  const dnsPort = portOption("dns-port");
  const fallback = values.fallback === undefined ? 0 : Number(values.fallback);
  if (!Number.isInteger(fallback) || fallback < 0) fail(`--fallback must be a whole number of minutes`);
  const stateDir = resolve(values["state-dir"] ?? `.plug-state/${bind.replace(/[^0-9A-Za-z.]/g, "_")}-${port}`);
  let networks: VirtualNetwork[] | undefined;
  if (values.wifi !== undefined) {
    // the plug writes its own files only; the list is the user's, read and never written
    if (PLUG_FILES.some((name) => resolve(stateDir, name) === resolve(values.wifi!))) fail(`--wifi: ${values.wifi} is one of the plug's own files in its state directory: keep the list elsewhere`);
    try {
      networks = loadNetworks(values.wifi);
    } catch (e) {
      fail(`--wifi: ${(e as Error).message}`);
    }
  }
  let load: LoadSpec | undefined;
  try {
    load = parseLoadArgs({ load: values.load, volts: values.volts, meter: values.meter, model: values.model });
  } catch (e) {
    fail((e as Error).message);
  }

  let plug: VirtualPlug;
  try {
    plug = await VirtualPlug.start({
      port, bind, model: values.model, stateDir, powerOn, networks, httpPort, dnsPort, factory: values.factory,
      noTime: values["no-time"],
      presenceLock: !values["no-presence-lock"],
      onboarding: { openSetup: values["open-setup"], fallbackMinutes: fallback },
      load: load && { profile: repeatingProfile(load.points, load.volts), chip: load.chip },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(
      err.code === "EADDRINUSE"
        ? `a port on ${bind} is in use (${err.message}; another plug?): pick others with --port and --http-port`
        : `cannot start: ${err.message}`,
    );
    process.exit(1);
  }
  plug.log(`listening on TCP and UDP ${bind}:${plug.port}, state in ${stateDir}; Ctrl-C stops`);
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
    plug.log("Enter presses the plug's button; a number of seconds, then Enter, holds it (3: unlock, 6: setup, 11: reset)");
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
  }
  const stop = () => {
    plug.log("stopping");
    plug.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
