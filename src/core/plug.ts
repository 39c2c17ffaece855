// Builds a whole plug from its ports: identity, device state, clock, the Kasa modules and the server.
// Each platform's composition root calls createPlug with its adapters, then start().

import type {
  ButtonPort, ClockPort, DatagramPort, KeyValuePort, LedPort, LogPort, RelayPort, RestartPort, TcpListenerPort, TimerPort, WifiPort,
} from "../ports/ports.js";
import type { PlugContext } from "./context.js";
import { Device, type PowerOnPolicy } from "./device.js";
import { Dispatcher, type ModuleTable } from "./dispatcher.js";
import { deriveIdentity, formatMac, parseMac, type Identity } from "./identity.js";
import { antiTheftModule, MAX_AWAY_RULES, readAwayRule } from "./modules/anti_theft.js";
import { cnCloudModule } from "./modules/cncloud.js";
import { countDownModule, readCountdownRule } from "./modules/count_down.js";
import { emeterModule } from "./modules/emeter.js";
import { netifModule } from "./modules/netif.js";
import { MAX_SCHEDULE_RULES, readScheduleRule, scheduleModule } from "./modules/schedule.js";
import { systemModule } from "./modules/system.js";
import { timeModule } from "./modules/time.js";
import { DEFAULT_PERSONALITY, findPersonality, type Personality } from "./personality.js";
import { RuleTable } from "./rules.js";
import { KasaServer } from "./server.js";
import { IDENTITY_KEYS, KEY, Settings } from "./settings.js";
import { WallClock } from "./time/clock.js";
import { DEFAULT_ZONE, ZONE_COUNT } from "./time/zones.js";
import { hex } from "./params.js";

export interface PlugPorts {
  relay: RelayPort;
  led: LedPort;
  button: ButtonPort;
  clock: ClockPort;
  timers: TimerPort;
  store: KeyValuePort;
  wifi: WifiPort;
  tcp: TcpListenerPort;
  udp: DatagramPort;
  restart: RestartPort;
  log: LogPort;
}

export interface PlugOptions {
  /** Personality key or model ("HS110"); a stored one wins unless `forceModel` says otherwise. */
  model?: string;
  /** True when the model was chosen explicitly (a command-line flag): it replaces the stored one. */
  forceModel?: boolean;
  powerOn?: PowerOnPolicy;
}

export interface Plug {
  readonly context: PlugContext;
  readonly dispatcher: Dispatcher;
  start(): void;
  stop(): void;
}

/** Picks the personality: an explicit choice, else the stored one, else the build's default. */
function choosePersonality(settings: Settings, options: PlugOptions): Personality {
  const requested = options.model === undefined ? undefined : findPersonality(options.model);
  if (options.model !== undefined && requested === undefined) throw new Error(`unknown model "${options.model}"`);
  const stored = findPersonality(settings.text(KEY.model, ""));
  const chosen = (options.forceModel ? requested : stored ?? requested) ?? stored ?? findPersonality(DEFAULT_PERSONALITY)!;
  settings.put(KEY.model, chosen.key);
  return chosen;
}

/** The identity: derived from the radio's MAC, with whatever set_mac_addr/set_device_id/set_hw_id stored. */
function loadIdentity(settings: Settings, wifi: WifiPort): Identity {
  const hardwareMac = formatMac(wifi.mac());
  const mac = parseMac(settings.text(KEY.mac, "")) ?? hardwareMac;
  const derived = deriveIdentity(hardwareMac);
  return {
    mac,
    deviceId: hex(settings.text(KEY.deviceId, ""), 40) ?? derived.deviceId,
    hwId: hex(settings.text(KEY.hwId, ""), 32) ?? derived.hwId,
    oemId: hex(settings.text(KEY.oemId, ""), 32) ?? derived.oemId,
  };
}

export function createPlug(ports: PlugPorts, options: PlugOptions = {}): Plug {
  const settings = new Settings(ports.store);
  const personality = choosePersonality(settings, options);
  const identity = loadIdentity(settings, ports.wifi);
  const device = new Device(personality, identity, settings, ports.relay, ports.led, ports.clock, { powerOn: options.powerOn });
  const clock = new WallClock(ports.clock, settings.int(KEY.zone, 0, ZONE_COUNT - 1, DEFAULT_ZONE));

  const context: PlugContext = {
    personality,
    device,
    settings,
    clock,
    wifi: ports.wifi,
    timers: ports.timers,
    restart: ports.restart,
    log: ports.log,
    rules: {
      schedule: new RuleTable(MAX_SCHEDULE_RULES, readScheduleRule),
      countDown: new RuleTable(1, readCountdownRule),
      antiTheft: new RuleTable(MAX_AWAY_RULES, readAwayRule),
    },
    factoryReset() {
      ports.wifi.forget();
      settings.wipe(IDENTITY_KEYS);
      ports.restart.restart();
    },
  };

  const modules: ModuleTable = Object.freeze({
    system: systemModule,
    netif: netifModule,
    cnCloud: cnCloudModule,
    time: timeModule,
    schedule: scheduleModule,
    count_down: countDownModule,
    anti_theft: antiTheftModule,
    emeter: emeterModule(personality),
  });
  const dispatcher = new Dispatcher(modules, context, ports.log);
  const server = new KasaServer(dispatcher, ports.log);

  return {
    context,
    dispatcher,
    start() {
      ports.button.listen((pressed) => {
        if (pressed) device.toggle();
      });
      server.start(ports.tcp, ports.udp);
      ports.log(`${personality.model} "${device.alias}" ${identity.mac} ready, relay ${device.relay ? "on" : "off"}`);
    },
    stop() {
      server.stop();
    },
  };
}
