// Builds a whole plug from its ports: identity, device state, clock, the Kasa modules, the server,
// the Wi-Fi state machine with its setup page, the button and the status LED. Each platform's
// composition root calls createPlug with its adapters, then start().

import type {
  ButtonPort, ClockPort, CryptoPort, DatagramPort, KeyValuePort, LedPort, LogPort, RandomPort, RelayPort, RestartPort, TcpListenerPort, TimerPort, UpdatePort, WifiPort,
} from "../ports/ports.js";
import { Updater } from "./update/updater.js";
import { KlapServer } from "./klap/klap-server.js";
import { KlapDiscovery } from "./klap/discovery.js";
import { KlapOwner } from "./klap/owner.js";
import { ButtonGestures, type ButtonActions, type HoldStage } from "./device/button.js";
import type { MeterDriver } from "./energy/meter/meter.js";
import type { PlugContext, PlugRestart } from "./protocol/context.js";
import { Device, type DeviceListener, type PowerOnPolicy } from "./device/device.js";
import { Dispatcher, requestNames, type ModuleTable } from "./protocol/dispatcher.js";
import { nameBytes } from "./protocol/wire/json-members.js";
import { deriveIdentity, formatMac, parseMac, type Identity } from "./device/identity.js";
import { antiTheftModule, AWAY_RULES } from "./modules/anti_theft.js";
import { cnCloudModule } from "./modules/cncloud.js";
import { countDownModule } from "./modules/count_down.js";
import { COUNTDOWN_RULES, Countdown } from "./rules/countdown.js";
import { emeterModule, METER } from "./modules/emeter.js";
import { EnergyStats } from "./energy/energy.js";
import { netifModule } from "./modules/netif.js";
import { SCHEDULE_RULES, scheduleModule } from "./modules/schedule.js";
import { systemModule } from "./modules/system.js";
import { timeModule } from "./modules/time.js";
import { DEFAULT_PERSONALITY, findPersonality, type Personality } from "./device/personality.js";
import { RuleTable, type RulesListener } from "./rules/rules.js";
import { RuntimeStats } from "./rules/runtime-stats.js";
import { Scheduler, type SchedulerListener } from "./rules/scheduler.js";
import { DEVICE_LIMITS, LOG_LINES_PER_MINUTE, ThrottledLog, VERBOSE_LOG_LINES_PER_MINUTE, type Limits } from "./limits.js";
import { PresenceLock, type PresenceListener } from "./device/presence.js";
import { KasaServer } from "./protocol/server.js";
import { SafeStore } from "./storage/safe-store.js";
import { IDENTITY_KEYS, KEY, Settings } from "./storage/settings.js";
import { WallClock } from "./time/clock.js";
import { DEFAULT_ZONE, ZONE_COUNT } from "./time/zones.js";
import { PRESENCE_WINDOW_MS } from "./timing.js";
import { hex } from "./protocol/params.js";
import { Indicator } from "./device/indicator.js";
import { Onboarding, type OnboardingListener, type OnboardingOptions, type WifiState } from "./onboarding/onboarding.js";
import { SetupPortal } from "./onboarding/portal.js";
import { LogRing } from "./owner/log-ring.js";
import { OwnerPage } from "./owner/owner-page.js";

/**
 * Every name the plug reads from a request: the modules', their methods' (the meter's for emeter)
 * and the parameters the methods read (`params.x`, `has(params, "x")`, `optionalInt(params, "x", ...)`
 * in modules/ and in the readers they call: rules.ts, countdown.ts, time/clock.ts). A request is
 * parsed keeping only members of these names (dispatcher.ts says why): a parameter missing here
 * would never reach its method on a device. host-tests/request-names.test.ts checks the list
 * against the code. Made once, at the top level: a device keeps it in flash.
 */
/**
 * Names real clients send that the plug does not answer (python-kasa's update asks for HomeKit's
 * setup info; a leading context carries a source): the property names of this frozen object, so
 * that they are keys in flash, and a request holding them is parsed without the list of names.
 */
export const CLIENT_NAMES = Object.freeze({ "smartlife.iot.homekit": 0, setup_info_get: 0, context: 0, source: 0 });

/** The Kasa modules every plug has; `emeter` is added per personality (assemble). */
const MODULES = Object.freeze({
  system: systemModule,
  netif: netifModule,
  cnCloud: cnCloudModule,
  time: timeModule,
  schedule: scheduleModule,
  count_down: countDownModule,
  anti_theft: antiTheftModule,
});

export const REQUEST_NAMES = requestNames(
  { ...MODULES, emeter: METER },
  [
    // system
    "state", "off", "alias", "latitude", "longitude", "latitude_i", "longitude_i", "mac", "deviceId", "hwId", "icon", "hash", "delay",
    // netif, cnCloud
    "refresh", "ssid", "password", "key_type", "username", "server",
    // time
    "index", "year", "month", "mday", "hour", "min", "sec",
    // schedule, anti_theft and count_down rules, and the statistics
    "id", "name", "enable", "wday", "repeat", "stime_opt", "smin", "soffset", "sact", "etime_opt", "emin", "eact", "frequency", "day", "act",
    // emeter
    "vgain", "igain", "vtarget", "itarget",
    ...Object.keys(CLIENT_NAMES),
  ],
);

/** REQUEST_NAMES as bytes, for the dispatcher's check that a request holds only those (in flash too). */
const REQUEST_NAME_BYTES = nameBytes(REQUEST_NAMES);

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
  /** The setup page's listener (port 80 on a device); listened on only while the setup network is up. */
  http: TcpListenerPort;
  /** The captive-portal DNS (port 53 on a device); likewise. */
  dns: DatagramPort;
  random: RandomPort;
  restart: RestartPort;
  log: LogPort;
  /**
   * The energy meter chip's driver (src/core/energy/meter), on boards that have one: the composition root
   * builds it from the board (or a simulated chip from a load profile). Without it a metering
   * personality reads zero and keeps no energy statistics.
   */
  meter?: MeterDriver;
  /** KLAP's hashes and cipher: needed by the secure and both modes (PlugOptions.mode). */
  crypto?: CryptoPort;
  /**
   * The KLAP server's listener (port 80 on a device, the setup page's port: it listens only while
   * the setup network is down). Needed by the secure and both modes.
   */
  klap?: TcpListenerPort;
  /** Discovery on UDP 20002 (klap/discovery.ts), in the secure and both modes; none without it. */
  discovery?: DatagramPort;
  /** The other firmware slot (an ESP32's OTA partition, the host's slot files); absent: no updates over the network. */
  update?: UpdatePort;
}

/**
 * Which local protocols the plug speaks: `legacy` (the default) the Kasa protocol on TCP and UDP
 * 9999 only, no authentication; `secure` KLAP only (9999 closed, as real KLAP plugs), with discovery
 * on UDP 20002; `both` all of them.
 */
export type PlugMode = "legacy" | "secure" | "both";

export interface PlugOptions {
  /** Personality key or model ("HS110"); a stored one wins unless `forceModel` says otherwise. */
  model?: string;
  /** True when the model was chosen explicitly (a command-line flag): it replaces the stored one. */
  forceModel?: boolean;
  powerOn?: PowerOnPolicy;
  /** Setup network choices (passphrase from the build, the opt-in open network and fallback). */
  onboarding?: OnboardingOptions;
  /** The setup page's port when it is not 80 (the host target). */
  httpPort?: number;
  /** Resource bounds (default: DEVICE_LIMITS, sized for an ESP8266). */
  limits?: Limits;
  /** The physical-presence lock (default on): off makes reset, Wi-Fi and identity changes open to the LAN. */
  presenceLock?: boolean;
  /** Log each request's client, module and method (the host's `--verbose`), under VERBOSE_LOG_LINES_PER_MINUTE. */
  verbose?: boolean;
  /** The local protocols (default legacy); secure and both need the crypto and klap ports. */
  mode?: PlugMode;
  /**
   * The owner's page (owner/owner-page.ts) once joined, on the setup page's listener: on by default in
   * the legacy and both modes, off in secure mode unless true; false turns it off in any mode. It
   * needs the crypto port (the owner's credentials are kept as their KLAP auth hash).
   */
  ownerPage?: boolean;
  /** The owner's public key for signed updates (65 bytes, uncompressed P-256), built in; absent: every update is refused. */
  updateKey?: Uint8Array;
  /** The running firmware's version (the build's; after an update, the one its signed header named). */
  firmwareVersion?: string;
  /** How long a new firmware has to confirm itself (default UPDATE_CONFIRM_MS, 5 minutes; the host's tests shorten it). */
  updateConfirmMs?: number;
  /** The KLAP port the discovery answer advertises when it is not 80 (the host target); default: the setup page's when KLAP shares its listener, else 80. */
  klapPort?: number;
}

/** Throws when the mode is unknown or lacks the ports it needs (before anything is built). */
function checkMode(ports: PlugPorts, options: PlugOptions): void {
  const mode = options.mode ?? "legacy";
  if (mode !== "legacy" && mode !== "secure" && mode !== "both") throw new Error(`unknown mode "${String(mode)}": legacy, secure or both`);
  if (mode !== "legacy" && (ports.crypto === undefined || ports.klap === undefined)) {
    throw new Error(`mode ${mode} needs KLAP: this platform gave the plug no crypto port or no KLAP listener`);
  }
  if (options.ownerPage === true && ports.crypto === undefined) throw new Error("the owner's page needs the crypto port: this platform gave the plug none");
}

/** Whether the plug serves the owner's page (PlugOptions.ownerPage). */
function ownerPageOn(ports: PlugPorts, options: PlugOptions): boolean {
  return ports.crypto !== undefined && (options.ownerPage ?? (options.mode ?? "legacy") !== "secure");
}

export interface Plug {
  readonly context: PlugContext;
  readonly dispatcher: Dispatcher;
  readonly portal: SetupPortal;
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
  checkMode(ports, options);
  // XS copies a function's locals and every free variable it uses (its module's imports included)
  // onto the stack at each call, and the ESP8266's XS stack is 256 slots. The boot's deep calls are
  // the constructors that read and write settings: the writes a first boot makes (the store's
  // opening, the model) run under this small frame, the parts that read their settings under
  // openParts', and the assembled plug's constructor only wires them up, under assemble's small
  // frame. Each stage ends in a tail call to the next (`return next(...)`), so XS runs it in place of
  // the one before: the frames do not pile up.
  const settings = new Settings(new SafeStore(ports.store), ports, (options.limits ?? DEVICE_LIMITS).settingsWritesPerHour);
  return openParts(ports, options, settings, choosePersonality(settings, options));
}

/** What openParts makes for assemble: the parts that read their settings when they are made. */
interface Parts {
  /** The plug's one limited log (ThrottledLog.line): every part that can log what a client caused writes through it. */
  readonly log: LogPort;
  /** The limiter itself: its `notice` writes the lines the owner must see whatever a client does (escaped, never dropped). */
  readonly throttle: ThrottledLog;
  readonly settings: Settings;
  readonly device: Device;
  readonly now: () => number;
  readonly onboarding: Onboarding;
  readonly clock: WallClock;
  readonly schedule: RuleTable;
  readonly antiTheft: RuleTable;
  readonly countdown: Countdown;
  readonly stats: RuntimeStats;
  readonly scheduler: Scheduler;
  readonly energy: EnergyStats | undefined;
  /** The recent log lines the owner's page shows (fed by the limiter), when it is on. */
  readonly ring: LogRing | undefined;
}

/** The device first (the relay gets its boot state before anything slow), then the rest that reads settings, in a frame with few locals. */
function openParts(ports: PlugPorts, options: PlugOptions, settings: Settings, personality: Personality): Plug {
  const now = () => ports.clock.monotonic();
  // The one limiter of the lines a client can cause (LOG_LINES_PER_MINUTE), as a bound method: the
  // parts take a log function. Only the owner's lines bypass it: the identity line and a factory
  // reset (ThrottledLog.notice, escaped: the alias came from the network), and the setup network's
  // lines, all made by the plug itself (its SSID and passphrase), straight to the port: one bound
  // function less in RAM.
  // With the owner's page, the limiter's lines also go to its ring of recent lines (never the setup network's: straight to the port).
  const ring = ownerPageOn(ports, options) ? new LogRing((options.limits ?? DEVICE_LIMITS).ownerLogBytes, ports.log) : undefined;
  const throttle = new ThrottledLog(ring === undefined ? ports.log : ring.line.bind(ring), now, options.verbose ? VERBOSE_LOG_LINES_PER_MINUTE : LOG_LINES_PER_MINUTE);
  const log: LogPort = throttle.line.bind(throttle);
  const device = new Device(personality, loadIdentity(settings, ports.wifi), settings, ports.relay, ports.clock, ports.timers, {
    powerOn: options.powerOn,
    limits: options.limits ?? DEVICE_LIMITS,
    log,
  });
  const onboarding = new Onboarding(
    { wifi: ports.wifi, timers: ports.timers, random: ports.random, log, notice: ports.log, now },
    settings,
    Device.defaultAlias(device.identity.mac),
    options.onboarding,
  );
  const clock = new WallClock(ports.clock, settings.int(KEY.zone, 0, ZONE_COUNT - 1, DEFAULT_ZONE));
  const schedule = new RuleTable(SCHEDULE_RULES, settings, ports.random);
  const antiTheft = new RuleTable(AWAY_RULES, settings, ports.random);
  const countdown = new Countdown(new RuleTable(COUNTDOWN_RULES, settings, ports.random), device, clock, now, ports.timers, settings, log);
  const stats = new RuntimeStats(settings, clock, device, now);
  return assemble(ports, options, {
    log, throttle, settings, device, now, onboarding, clock, schedule, antiTheft, countdown, stats,
    scheduler: new Scheduler(clock, ports.timers, device, schedule, antiTheft, countdown, stats, settings, ports.random, log),
    energy: personality.emeter === "none" ? undefined : new EnergyStats(ports.meter, settings, clock, ports.timers, now),
    ring,
  });
}

/** The rest of createPlug, in a small frame: the plug that wires the parts together (nothing deep runs under it). */
function assemble(ports: PlugPorts, options: PlugOptions, parts: Parts): Plug {
  return new AssembledPlug(ports, options, parts);
}

/**
 * The assembled plug: the parts that call each other, and every call between them. It is the
 * button's actions, the restart the Kasa methods ask for (`context.restart`), and what hears of the
 * device, the rule tables, the scheduler and the Wi-Fi state machine. A class of this preloaded
 * module rather than closures made at boot: its methods stay in flash, where each closure would copy
 * its code into RAM and keep an environment of the variables it uses (docs/MEMORY.md). The parts it
 * calls are reached through the context, one slot for them all.
 */
class AssembledPlug implements Plug, PlugRestart, ButtonActions, DeviceListener, RulesListener, SchedulerListener, OnboardingListener, PresenceListener {
  readonly context: PlugContext;
  readonly dispatcher: Dispatcher;
  readonly portal: SetupPortal;
  private readonly server: KasaServer;
  private readonly indicator: Indicator;
  private readonly button: ButtonGestures;
  /** The plug's log limiter: its `notice` writes the owner's lines, escaped, never dropped. */
  private readonly throttle: ThrottledLog;
  /** KLAP and its discovery, in the secure and both modes (one slot, undefined in legacy mode). */
  private readonly klap: KlapSide | undefined;
  /** The Kasa port 9999 (TCP and UDP) is served: not in secure mode. */
  private readonly legacyPort: boolean;
  /**
   * The owner's page, when on (PlugOptions.ownerPage); served through KLAP's listener when KLAP shares
   * the page's. Set only then: a plug without it (an ESP8266 without the crypto port) has no slot for it.
   */
  declare private readonly ownerPage?: OwnerPage;

  constructor(
    private readonly ports: PlugPorts,
    options: PlugOptions,
    parts: Parts,
  ) {
    const device = parts.device;
    const onboarding = parts.onboarding;
    const now = parts.now;
    const limits = options.limits ?? DEVICE_LIMITS;
    const context: PlugContext = {
      personality: device.personality,
      device,
      settings: parts.settings,
      clock: parts.clock,
      wifi: ports.wifi,
      onboarding,
      timers: ports.timers,
      restart: this,
      log: parts.log,
      rules: { schedule: parts.schedule, antiTheft: parts.antiTheft },
      scheduler: parts.scheduler,
      countdown: parts.countdown,
      stats: parts.stats,
      energy: parts.energy,
      presence: new PresenceLock(options.presenceLock ?? true, now, ports.timers),
      delayedRestart: undefined,
    };
    const mode = options.mode ?? "legacy";
    const owner = mode === "legacy" ? undefined : new KlapOwner(parts.settings, ports.crypto!);
    if (owner !== undefined) (context as { owner?: KlapOwner }).owner = owner;
    // Only where an update or the owner's page can be (an update slot, or the crypto port the page
    // needs): an ESP8266 build has neither, and keeps the slots.
    if (ports.update !== undefined || ports.crypto !== undefined) (context as { updater?: Updater }).updater = new Updater(
      { update: ports.update, crypto: ports.crypto, timers: ports.timers, log: parts.log, settings: parts.settings, restart: this },
      options.updateKey,
      options.firmwareVersion ?? "",
      options.updateConfirmMs,
    );
    this.context = context;
    this.legacyPort = mode !== "secure";
    this.throttle = parts.throttle;
    const modules: ModuleTable = Object.freeze({ ...MODULES, emeter: emeterModule(device.personality) });
    this.dispatcher = new Dispatcher(modules, REQUEST_NAMES, REQUEST_NAME_BYTES, context, options.verbose === true);
    // The server takes a function for a client's sign of life: the one closure the plug keeps.
    this.server = new KasaServer(this.dispatcher, { log: parts.log, timers: ports.timers, now }, limits, (address) => onboarding.clientSign(address));
    // The owner's page: its credentials are KLAP's owner's, kept the same way in legacy mode (not in the context there: cnCloud.bind stays as it was)
    const pageOwner = parts.ring === undefined ? undefined : owner ?? new KlapOwner(parts.settings, ports.crypto!);
    if (pageOwner !== undefined) {
      (this as unknown as { ownerPage?: OwnerPage }).ownerPage = new OwnerPage({ crypto: ports.crypto!, random: ports.random, log: parts.log, timers: ports.timers, now }, context, this.server, pageOwner, parts.ring, limits);
    }
    this.portal = new SetupPortal({ wifi: ports.wifi, timers: ports.timers, log: parts.log, now }, onboarding, device, options.httpPort, limits, owner ?? pageOwner, (owner === undefined ? 0 : 1) | (pageOwner === undefined ? 0 : 2));
    const klapPort = klapPortOf(ports, options);
    this.klap = owner === undefined ? undefined : new KlapSide(
      new KlapServer(this.server, { crypto: ports.crypto!, random: ports.random, log: parts.log, timers: ports.timers, now }, owner, limits),
      ports.discovery === undefined ? undefined : new KlapDiscovery({ log: parts.log, now, wifi: ports.wifi }, device, owner, klapPort, limits),
      ports,
      ports.klap === ports.http || klapPort === (options.httpPort ?? 80),
    );
    if (this.klap?.sharesPort && this.ownerPage !== undefined) this.klap.server.other = this.ownerPage;
    this.indicator = new Indicator(ports.led, ports.timers, device, onboarding, context.presence, parts.log);
    this.button = new ButtonGestures(ports.timers, now, this);
    device.listener = this;
    parts.schedule.listener = parts.antiTheft.listener = parts.countdown.table.listener = this;
    parts.scheduler.listener = this;
    onboarding.listener = this;
    context.presence.listener = this;
  }

  start(): void {
    const ports = this.ports;
    const context = this.context;
    const device = context.device;
    const button = this.button;
    ports.button.listen((pressed) => button.edge(pressed));
    if (this.legacyPort) this.server.start(ports.tcp, ports.udp);
    this.klap?.start();
    this.throttle.notice(`${context.personality.model} "${device.alias}" ${device.identity.mac} ready, relay ${device.relay ? "on" : "off"}`);
    context.updater?.start(); // a new image on trial: its confirmation clock, before the network can be joined
    context.onboarding.start(); // its first state change lights the LED
    context.scheduler.start();
    context.energy?.start();
  }

  stop(): void {
    this.save();
    this.halt();
  }

  /** A pending relay write and the statistics reach flash before any restart. */
  restart(): void {
    this.save();
    this.ports.restart.restart();
  }

  factoryReset(): void {
    this.throttle.notice("factory reset: Wi-Fi, settings and rules wiped, identity kept");
    this.save(); // nothing left pending to write after the wipe
    this.halt();
    this.ports.wifi.forget();
    this.context.settings.wipe(IDENTITY_KEYS);
    this.ports.restart.restart();
  }

  // The button's gestures.
  unlock(): void {
    const presence = this.context.presence;
    if (!presence.enabled) return;
    this.ports.log(`presence lock: open for one command, ${PRESENCE_WINDOW_MS / 60000} minutes at most`);
    presence.unlock();
  }

  toggle(): void {
    this.context.device.toggle();
  }

  setup(): void {
    this.context.onboarding.openSetup("button held 5 s");
  }

  reset(): void {
    this.factoryReset();
  }

  holding(stage: HoldStage): void {
    this.indicator.holding(stage);
  }

  // What the parts tell.
  deviceChanged(): void {
    this.context.stats.account(); // the minutes on up to this change
    this.indicator.update();
  }

  rulesChanged(): void {
    this.context.scheduler.changed();
  }

  timeKnown(time: number): void {
    const context = this.context;
    context.countdown.resume(time);
    if (context.device.powerOn !== "schedule" || context.device.kept) return;
    const action = context.scheduler.lastDueToday(time);
    if (action < 0) return;
    this.context.log(`power-on follows the schedule: relay ${action === 1 ? "on" : "off"}`);
    context.device.setRelay(action === 1);
  }

  presenceChanged(): void {
    this.indicator.update();
  }

  presenceExpired(): void {
    this.ports.log(`presence lock: closed again, unused for ${PRESENCE_WINDOW_MS / 60000} minutes`);
  }

  onboardingChanged(state: WifiState): void {
    // KLAP and the setup page share port 80 on a device: one stops before the other listens.
    const klap = this.klap;
    if (state === "setup") {
      if (klap?.sharesPort) klap.close();
      else klap?.open();
      this.ownerPage?.close();
      this.portal.open(this.ports.http, this.ports.dns);
    } else {
      this.portal.close();
      klap?.open();
      if (!klap?.sharesPort) this.ownerPage?.open(this.ports.http); // (else KLAP's listener hands it its requests)
      if (state === "joined") this.context.updater?.joined();
    }
    this.indicator.update();
  }

  /** What must reach flash before the plug restarts, resets or stops: every change still waiting, whatever the write budget. */
  private save(): void {
    const context = this.context;
    const settings = context.settings;
    settings.direct(true); // writes what waits, then the parts' last writes go straight to flash
    context.device.saveRelay();
    context.stats.flush();
    context.energy?.flush();
    settings.direct(false);
  }

  /** Stops every part: its timers, listeners and the network's. */
  private halt(): void {
    const context = this.context;
    this.ports.timers.cancel(context.delayedRestart); // a stopped plug does not restart by itself
    context.delayedRestart = undefined;
    context.energy?.stop();
    context.updater?.stop();
    context.scheduler.stop();
    context.countdown.stop();
    context.device.stop();
    this.button.stop();
    context.presence.stop();
    context.onboarding.stop();
    this.indicator.stop();
    this.portal.close();
    this.ownerPage?.stop();
    this.klap?.stop();
    this.server.stop();
  }
}

/**
 * The port KLAP listens on, which discovery advertises: the option's, else the setup page's when
 * they share one listener (a device's 80, the simulator's 8080), else 80.
 */
function klapPortOf(ports: PlugPorts, options: PlugOptions): number {
  return options.klapPort ?? (ports.klap === ports.http ? options.httpPort : undefined) ?? 80;
}

/**
 * The KLAP server and its discovery (the secure and both modes): the server listens while the setup
 * page does not when they share a port (80 on a device), always when they do not (the host's 8880
 * and 8080); discovery from start to stop.
 */
class KlapSide {
  private listening = false;

  constructor(
    readonly server: KlapServer,
    private readonly discovery: KlapDiscovery | undefined,
    private readonly ports: PlugPorts,
    /** KLAP's port is the setup page's (a device's 80): it stops while the page is up. */
    readonly sharesPort: boolean,
  ) {}

  start(): void {
    if (this.discovery !== undefined) this.discovery.start(this.ports.discovery!);
  }

  /** The KLAP server listens (the setup page closed). */
  open(): void {
    if (this.listening) return;
    this.listening = true;
    this.server.start(this.ports.klap!);
  }

  /** The KLAP server stops (before the setup page opens, or the plug stops). */
  close(): void {
    if (!this.listening) return;
    this.listening = false;
    this.server.stop();
  }

  stop(): void {
    this.close();
    this.discovery?.stop();
  }
}
