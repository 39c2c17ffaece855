// Kasa module `system` (PROTOCOL §2.1, §3): sysinfo, the relay, the LED, names, location, identity,
// reboot and factory reset. At most one delayed reboot or reset waits at a time: a new one replaces
// it, however many requests ask.

import type { PlugContext } from "../protocol/context.js";
import type { MethodResult, Module, RequestContext } from "../protocol/dispatcher.js";
import { INVALID_ARGUMENT, saved, UNKNOWN_ERROR, type KasaError } from "../protocol/errors.js";
import { parseMac } from "../device/identity.js";
import { flag, has, hex, int, num, str, type Params } from "../protocol/params.js";
import { physical } from "../device/presence.js";
import type { Personality } from "../device/personality.js";
import { KEY, MAX_VALUE_BYTES } from "../storage/settings.js";
import type { JsonOut, JsonWritable } from "../protocol/wire/json-out.js";

/** The longest alias accepted, in bytes of UTF-8 (what one setting can hold on an ESP8266). */
export const MAX_ALIAS_BYTES = MAX_VALUE_BYTES;
/** The longest reboot/reset delay accepted, in seconds. */
export const MAX_DELAY_SECONDS = 3600;

/**
 * The sysinfo object of the personality's generation, key for key as the real dumps have it.
 * A JsonWritable rather than an object: it keeps only what can change (read once, when asked, so
 * that the answer's size pass and its write agree even if it goes out in parts while other requests
 * run) and writes the rest from the personality, in flash. An object with every member took 46 slots
 * and 352 chunk bytes per answer in flight; on an ESP8266 two can be in flight at once (a client
 * that does not read keeps its answer), docs/MEMORY.md.
 */
export class Sysinfo implements JsonWritable {
  /** A method's result (dispatcher.ts MethodResult); its own err_code, so the dispatcher adds none. */
  [member: string]: unknown;
  readonly err_code = 0;
  private readonly personality: Personality;
  private readonly alias: string;
  private readonly relay: number;
  private readonly onTime: number;
  private readonly activeMode: string;
  private readonly iconHash: string;
  private readonly rssi: number;
  private readonly ledOff: number;
  private readonly longitudeI: number;
  private readonly latitudeI: number;
  private readonly mac: string;
  private readonly hwId: string;
  private readonly deviceId: string;
  private readonly oemId: string;
  private readonly nextAction: unknown;
  private readonly configured: boolean;

  constructor(plug: PlugContext) {
    const { device, personality: p, wifi } = plug;
    const id = device.identity;
    this.personality = p;
    this.alias = device.alias;
    // The state asked for: the relay reaches it now, or as soon as its flood guard allows (device.ts).
    this.relay = device.target ? 1 : 0;
    this.onTime = device.onTime();
    this.activeMode = plug.scheduler.activeMode();
    this.iconHash = device.iconHash;
    this.rssi = wifi.rssi();
    this.ledOff = device.ledOff;
    this.longitudeI = device.longitudeI;
    this.latitudeI = device.latitudeI;
    this.mac = id.mac;
    this.hwId = id.hwId;
    this.deviceId = id.deviceId;
    this.oemId = id.oemId;
    this.nextAction = p.generation !== "v1" ? plug.scheduler.nextAction("schd_sec") : undefined;
    this.configured = wifi.saved() !== undefined;
  }

  writeJson(out: JsonOut): void {
    const p = this.personality;
    out.byte(0x7b);
    out.string("err_code");
    out.byte(0x3a);
    out.number(0);
    text(out, "sw_ver", p.swVer);
    text(out, "hw_ver", p.hwVer);
    text(out, p.generation === "new" ? "mic_type" : "type", "IOT.SMARTPLUGSWITCH");
    text(out, "model", p.model);
    text(out, "mac", this.mac);
    text(out, "dev_name", p.devName);
    text(out, "alias", this.alias);
    number(out, "relay_state", this.relay);
    number(out, "on_time", this.onTime);
    text(out, "active_mode", this.activeMode);
    text(out, "feature", p.emeter === "none" ? "TIM" : "TIM:ENE");
    number(out, "updating", 0);
    text(out, "icon_hash", this.iconHash);
    number(out, "rssi", this.rssi);
    number(out, "led_off", this.ledOff);
    if (p.generation === "v1") {
      degrees(out, "longitude", this.longitudeI);
      degrees(out, "latitude", this.latitudeI);
    } else {
      number(out, "longitude_i", this.longitudeI);
      number(out, "latitude_i", this.latitudeI);
    }
    text(out, "hwId", this.hwId);
    if (p.generation !== "new") text(out, "fwId", "00000000000000000000000000000000");
    text(out, "deviceId", this.deviceId);
    text(out, "oemId", this.oemId);
    if (p.generation !== "v1") writeFlat(out, "next_action", this.nextAction as { [key: string]: unknown });
    if (p.generation === "new") {
      text(out, "status", this.configured ? "configured" : "new");
      if (p.ntcObd) {
        number(out, "ntc_state", 0);
        text(out, "obd_src", "tplink");
      }
    }
    out.byte(0x7d);
  }
}

// Sysinfo's members after its first: `,"name":value`, each in one frame (the serving stack's
// deepest path writes an answer: no frame more than needed).
function text(out: JsonOut, name: string, value: string): void {
  out.byte(0x2c);
  out.string(name);
  out.byte(0x3a);
  out.string(value);
}

/** `,"name":{…}` of an object whose members are numbers and strings (next_action), without the writer's recursion. */
function writeFlat(out: JsonOut, name: string, o: { [key: string]: unknown }): void {
  out.byte(0x2c);
  out.string(name);
  out.byte(0x3a);
  out.byte(0x7b);
  const names = Object.keys(o);
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out.byte(0x2c);
    out.string(names[i]);
    out.byte(0x3a);
    const v = o[names[i]];
    if (typeof v === "string") out.string(v);
    else out.number(v as number);
  }
  out.byte(0x7d);
}

/**
 * `,"name":` and a v1 location from its 1/10000 degrees: with 6 decimals as v1 firmware prints it
 * (10 -> 10.000000; python-kasa's schema takes a float or 0, and refuses the integer 10), 0 as 0.
 */
function degrees(out: JsonOut, name: string, tenThousandths: number): void {
  out.byte(0x2c);
  out.string(name);
  out.byte(0x3a);
  if (tenThousandths === 0) out.number(0);
  else out.thousandths(tenThousandths, 10000);
}

function number(out: JsonOut, name: string, value: number): void {
  out.byte(0x2c);
  out.string(name);
  out.byte(0x3a);
  out.number(value);
}

/** Stores a validated identity field (kept by factory reset) and shows it at once. */
function setIdentity(plug: PlugContext, key: string, field: "mac" | "deviceId" | "hwId", value: string | undefined): MethodResult | KasaError {
  if (value === undefined) return INVALID_ARGUMENT;
  if (!plug.settings.put(key, value)) return UNKNOWN_ERROR;
  plug.device.identity[field] = value;
  return {};
}

/** The delay of reboot or reset in seconds; undefined when invalid. python-kasa's factory_reset() sends reset {} with no delay: a missing delay means now. */
function delayOf(params: Params): number | undefined {
  return has(params, "delay") ? int(params.delay, 0, MAX_DELAY_SECONDS) : 0;
}

// The parameter checks of the locked methods (presence.ts: checked before the lock, the same answer locked or open).
function checkMac(_plug: PlugContext, params: Params): KasaError | undefined {
  return parseMac(params.mac) === undefined ? INVALID_ARGUMENT : undefined;
}

function checkDeviceId(_plug: PlugContext, params: Params): KasaError | undefined {
  return hex(params.deviceId, 40) === undefined ? INVALID_ARGUMENT : undefined;
}

function checkHwId(_plug: PlugContext, params: Params): KasaError | undefined {
  return hex(params.hwId, 32) === undefined ? INVALID_ARGUMENT : undefined;
}

function checkDelay(_plug: PlugContext, params: Params): KasaError | undefined {
  return delayOf(params) === undefined ? INVALID_ARGUMENT : undefined;
}

function delayed(plug: PlugContext, params: Params, request: RequestContext, effect: () => void): MethodResult | KasaError {
  const delay = delayOf(params);
  if (delay === undefined) return INVALID_ARGUMENT;
  // The answer goes out first; then the wait; the plug never restarts under a pending reply.
  request.afterReply(() => {
    plug.timers.cancel(plug.delayedRestart);
    plug.delayedRestart = plug.timers.after(Math.max(delay * 1000, 200), () => {
      plug.delayedRestart = undefined;
      effect();
    });
  });
  return {};
}

export const systemModule: Module = Object.freeze({
  get_sysinfo: (plug: PlugContext) => new Sysinfo(plug),

  set_relay_state: (plug: PlugContext, params: Params) => {
    const state = flag(params.state);
    if (state === undefined) return INVALID_ARGUMENT;
    plug.device.setRelay(state === 1);
    return {};
  },

  set_led_off: (plug: PlugContext, params: Params) => {
    const off = flag(params.off);
    if (off === undefined) return INVALID_ARGUMENT;
    return saved(plug.device.setLedOff(off));
  },

  set_dev_alias: (plug: PlugContext, params: Params) => {
    const alias = str(params.alias, MAX_ALIAS_BYTES, 1);
    if (alias === undefined) return INVALID_ARGUMENT;
    return saved(plug.device.setAlias(alias));
  },

  set_dev_location: (plug: PlugContext, params: Params) => {
    // The Kasa app and tplink-smarthome-api send floats and _i integers; softScheck floats only.
    let latI: number | undefined;
    let lonI: number | undefined;
    if (has(params, "latitude_i") || has(params, "longitude_i")) {
      latI = int(params.latitude_i, -900000, 900000);
      lonI = int(params.longitude_i, -1800000, 1800000);
    } else {
      const lat = num(params.latitude, -90, 90);
      const lon = num(params.longitude, -180, 180);
      if (lat !== undefined && lon !== undefined) {
        latI = Math.round(lat * 10000);
        lonI = Math.round(lon * 10000);
      }
    }
    if (latI === undefined || lonI === undefined) return INVALID_ARGUMENT;
    if (!plug.device.setLocation(latI, lonI)) return UNKNOWN_ERROR;
    plug.scheduler.changed(); // sunrise and sunset move with the place
    return {};
  },

  // Identity changes make the plug another device to every client: behind the presence lock.
  set_mac_addr: physical("system.set_mac_addr", (plug: PlugContext, params: Params) => setIdentity(plug, KEY.mac, "mac", parseMac(params.mac)), undefined, checkMac),

  set_device_id: physical("system.set_device_id", (plug: PlugContext, params: Params) => setIdentity(plug, KEY.deviceId, "deviceId", hex(params.deviceId, 40)), undefined, checkDeviceId),

  set_hw_id: physical("system.set_hw_id", (plug: PlugContext, params: Params) => setIdentity(plug, KEY.hwId, "hwId", hex(params.hwId, 32)), undefined, checkHwId),

  // The icon itself is not kept (an ESP8266 has no room for images); its hash is, as sysinfo shows it.
  get_dev_icon: (plug: PlugContext) => ({ icon: "", hash: plug.device.iconHash }),

  set_dev_icon: (plug: PlugContext, params: Params) => {
    const hash = str(params.hash, MAX_VALUE_BYTES);
    if (hash === undefined || typeof params.icon !== "string") return INVALID_ARGUMENT;
    return saved(plug.device.setIconHash(hash));
  },

  reboot: (plug: PlugContext, params: Params, request: RequestContext) =>
    delayed(plug, params, request, () => {
      plug.log("rebooting");
      plug.restart.restart();
    }),

  // A reset drops the plug off its network into setup: behind the presence lock.
  reset: physical(
    "system.reset",
    (plug: PlugContext, params: Params, request: RequestContext) =>
      delayed(plug, params, request, () => {
        plug.log("factory reset");
        plug.restart.factoryReset();
      }),
    undefined,
    checkDelay,
  ),
});
