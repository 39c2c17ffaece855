// The XS engine check's corpus: TCP request frames answered in one sequence by one plug per
// personality (state carries over from request to request), once on Node and once inside XS; and
// before those, the allocation budget's sequence (alloc-budget.ts), answered and compared alike.
//
// Nothing here may have a random or wall-clock-dependent answer beyond entry.ts's fixed clock and
// its all-zero random source (which makes rule ids predictable), and no real timers.

import { HEADER_BYTES, MAX_FRAME_BYTES } from "../../src/core/protocol/wire/frame.js";
import { encodeFrame, encrypt } from "../support/wire.js";
import { utf8Encode } from "../../src/core/protocol/wire/utf8.js";
import { PERSONALITIES } from "../../src/core/device/personality.js";
import { MAX_AWAY_RULES } from "../../src/core/modules/anti_theft.js";
import { MAX_SCHEDULE_RULES } from "../../src/core/modules/schedule.js";
import { MAX_RULE_NAME_BYTES } from "../../src/core/rules/rules.js";
import PYTHON_KASA_UPDATE_REQUEST from "../support/python-kasa-update.json" with { type: "json" };

export interface CorpusRequest {
  /** Unique within its sequence. */
  readonly label: string;
  readonly frame: Uint8Array;
  /** The XS run measures this request's allocation (run-xsnap.mjs; the budget in alloc-budget.ts). */
  readonly measure?: boolean;
}

export interface CorpusSequence {
  readonly name: string;
  /** Personality key given to startPlug. */
  readonly model: string;
  readonly requests: readonly CorpusRequest[];
  /** The XS run takes the live heap before these requests (requests.length: after the last). */
  readonly heapAt?: readonly number[];
}

// Captured on the wire (PROTOCOL §1.1): {"system":{"set_relay_state":{"state":1}}} and state 0.
export const CAPTURED_RELAY_ON = "0000002AD0F281F88BFF9AF7D5EF94B6C5A0D48BF99CF091E8B7C4B0D1A5C0E2D8A381F286E793F6D4EEDFA2DFA2";
export const CAPTURED_RELAY_OFF = "0000002AD0F281F88BFF9AF7D5EF94B6C5A0D48BF99CF091E8B7C4B0D1A5C0E2D8A381F286E793F6D4EEDEA3DEA3";
/** A real plug's answer to CAPTURED_RELAY_ON: {"system":{"set_relay_state":{"err_code":0}}}. */
export const CAPTURED_RELAY_ANSWER = "0000002dd0f281f88bff9af7d5ef94b6c5a0d48bf99cf091e8b7c4b0d1a5c0e2d8a381e496e4bbd8b7d3b694ae9ee39ee3";

/** python-kasa's combined update request, as it sends it. */
export const PYTHON_KASA_UPDATE =
  '{"system":{"get_sysinfo":{}},"smartlife.iot.homekit":{"setup_info_get":{}},"emeter":{"get_realtime":{},"get_daystat":{"year":2024,"month":1},"get_monthstat":{"year":2024}},"schedule":{"get_rules":{},"get_next_action":{},"get_realtime":{},"get_daystat":{"year":2024,"month":1},"get_monthstat":{"year":2024}},"anti_theft":{"get_rules":{},"get_next_action":{}},"time":{"get_time":{},"get_timezone":{}},"cnCloud":{"get_info":{}}}';

export const ALIAS_KUECHE = "Küche 🔌";
/** The longest alias: 60 bytes of UTF-8 (a setting: a 63-byte Preference value less its check). */
export const ALIAS_60_BYTES = "客".repeat(20);

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`not hex: ${hex.slice(0, 20)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A frame whose plaintext is exactly these bytes (which need not be valid UTF-8). */
function frameOfBytes(plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + plaintext.length);
  const n = plaintext.length;
  out.set([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  out.set(plaintext, HEADER_BYTES);
  encrypt(out.subarray(HEADER_BYTES));
  return out;
}

/** Plaintext from pieces: strings as UTF-8, number arrays as raw bytes. */
function bytesOf(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((p) => (typeof p === "string" ? utf8Encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const SYSINFO = '{"system":{"get_sysinfo":{}}}';
const TIME = '{"time":{"get_time":{},"get_timezone":{}}}';

function setTimezone(index: number, year: number, month: number, mday: number, hour: number, min: number, sec: number): string {
  return JSON.stringify({ time: { set_timezone: { index, year, month, mday, hour, min, sec }, get_time: {}, get_timezone: {} } });
}

/**
 * The requests, in order; the same list for every personality, but for the frames of 14-16 KiB
 * (`big`), which only the first sequence sends: XS's charCodeAt walks its UTF-8 strings from the
 * start, so the core's per-character UTF-8 loops cost O(n^2) there (about 0.2 s for such a frame).
 */
function requests(big: boolean): CorpusRequest[] {
  const list: CorpusRequest[] = [];
  const seen = new Set<string>();
  const add = (label: string, frame: Uint8Array) => {
    if (seen.has(label)) throw new Error(`duplicate corpus label ${label}`);
    seen.add(label);
    list.push({ label, frame });
  };
  const text = (label: string, t: string) => add(label, encodeFrame(t));
  const json = (label: string, value: unknown) => text(label, JSON.stringify(value));
  const raw = (label: string, hex: string) => add(label, fromHex(hex));
  const bytes = (label: string, ...parts: (string | number[])[]) => add(label, frameOfBytes(bytesOf(...parts)));

  // ---- captured frames and what clients send first
  raw("captured relay on", CAPTURED_RELAY_ON);
  text("sysinfo {}", SYSINFO);
  raw("captured relay off", CAPTURED_RELAY_OFF);
  text("sysinfo null", '{"system":{"get_sysinfo":null}}');
  raw("captured relay on again", CAPTURED_RELAY_ON);
  text("python-kasa update", PYTHON_KASA_UPDATE);
  text("sysinfo, relay on for a while", SYSINFO);
  text("tplink-smarthome-api style, emeter and sysinfo", '{"emeter":{"get_realtime":{}},"system":{"get_sysinfo":{}}}');

  // ---- error kinds
  text("unknown modules -1",
    '{"bogus":{"x":{}},"smartlife.iot.dimmer":{"get_dimmer_parameters":{}},"smartlife.iot.common.emeter":{"get_realtime":{}},"système":{"获取":{}},"system":{"get_dev_icon":{}}}');
  text("unknown methods -2",
    '{"system":{"set_test_mode":{"enable":1},"toString":{},"hasOwnProperty":{},"get_sysinfo ":{}},"anti_theft":{"get_next_action":{}},"schedule":{"get_realtime":{}},"cnCloud":{"set_sefserver_url":{"server":"x"}},"count_down":{"get_next_action":{}}}');
  text("invalid arguments -3",
    '{"system":{"set_relay_state":{"state":7},"set_led_off":{"off":"1"},"set_dev_alias":{"alias":""},"reboot":{"delay":-1},"set_dev_location":{"latitude":91,"longitude":0},"set_dev_icon":{"hash":"x"}},"time":{"get_timezone":5,"set_time":"now","get_time":[]},"schedule":{"get_daystat":{"year":"2024","month":1},"get_monthstat":{"year":1999}},"netif":{"get_scaninfo":{"refresh":"yes"}}}');
  for (const [i, t] of ["", " ", "{emeter:{}}", "{", '{"system":{"set_relay_state":{"state":1}}', '{"system":{}} trailing', "{'system':{}}",
    "NaN", '{"a":01}', '{"a":1,}', "\ufeff{}", '{"system":{"get_sysinfo":{}}}\u0000'].entries()) {
    text(`not JSON #${i}`, t);
  }
  for (const [i, t] of ["[1,2]", "[]", "null", "42", '"x"', "true", '[{"system":{"get_sysinfo":{}}}]', "-0", "1e400"].entries()) {
    text(`JSON but not an object #${i}`, t);
  }
  text("whitespace-laden JSON", ' \t\r\n{ "system" : { "get_dev_icon" : null } , "time" : {"get_timezone":{}}}\r\n ');
  text("module values that are not objects", '{"system":1,"time":[],"netif":null,"cnCloud":"x","schedule":true,"emeter":0,"anti_theft":{"get_rules":{}}}');
  text("__proto__ and inherited names",
    '{"__proto__":{"x":{}},"constructor":{},"prototype":{},"system":{"__proto__":{},"hasOwnProperty":{},"valueOf":null,"constructor":{"a":1}}}');
  text("__proto__ in params is no alias", '{"system":{"set_dev_alias":{"__proto__":{"alias":"Polluted"}},"set_relay_state":{"__proto__":{"state":0}}}}');
  text("duplicate modules: last wins", '{"system":{"set_relay_state":{"state":0}},"system":{"set_relay_state":{"state":1},"get_sysinfo":{}}}');
  text("duplicate methods and params: last wins",
    '{"system":{"set_dev_alias":{"alias":"First","alias":"Second"},"get_dev_icon":{},"set_dev_alias":{"alias":"Third"}}}');
  text("names with escapes", String.raw`{"\u0073ystem":{"get_dev_\u0069con":{"x\u0079":1},"s\u00e9t":{}},"b\u00f6gus\"\\\ud83d\udd0c":{}}`);
  text("leading context consumed", '{"context":{"source":"46a2f3"},"system":{"set_led_off":{"off":1}}}');
  text("later context answered -1", '{"system":{"set_led_off":{"off":0}},"context":{"source":"x"}}');
  text("integer-like names come first", '{"system":{"get_dev_icon":{}},"10":{},"2":{"1":{}},"-1":{},"01":{},"time":{"get_timezone":{},"7":{},"3":{}}}');
  text("numbers in JSON forms",
    '{"system":{"set_relay_state":{"state":1.0},"set_led_off":{"off":1e0}},"schedule":{"get_daystat":{"year":2024.0,"month":1E0},"get_monthstat":{"year":20.24e2}}}');
  text("numbers out of range", '{"system":{"set_relay_state":{"state":1e400},"set_led_off":{"off":-0}},"schedule":{"get_daystat":{"year":2024,"month":1.5}}}');
  text("boolean flags", '{"system":{"set_relay_state":{"state":false},"set_led_off":{"off":false}}}');
  text("deep params", `{"system":{"get_dev_icon":{"a":${"[".repeat(100)}${"]".repeat(100)}}}}`);

  // ---- aliases (60 bytes of UTF-8 at most)
  json("alias Küche", { system: { set_dev_alias: { alias: ALIAS_KUECHE } } });
  text("alias Küche read back", SYSINFO);
  json("alias 客厅灯", { system: { set_dev_alias: { alias: "客厅灯" }, get_sysinfo: {} } });
  json("alias 60 bytes", { system: { set_dev_alias: { alias: ALIAS_60_BYTES } } });
  text("alias 60 bytes read back", SYSINFO);
  json("alias 61 bytes refused", { system: { set_dev_alias: { alias: ALIAS_60_BYTES + "x" }, get_sysinfo: {} } });
  json("alias emoji at the limit", { system: { set_dev_alias: { alias: "x".repeat(56) + "🔌" }, get_sysinfo: {} } });
  json("alias emoji one over", { system: { set_dev_alias: { alias: "x".repeat(57) + "🔌" }, get_sysinfo: {} } });
  text("alias from JSON escapes", '{"system":{"set_dev_alias":{"alias":"\\ud83d\\udd0c \\u5ba2\\u00fc\\/"},"get_sysinfo":{}}}');
  text("alias with lone surrogates", '{"system":{"set_dev_alias":{"alias":"a\\udc00b\\ud800"},"get_sysinfo":{}}}');
  json("alias with control characters", { system: { set_dev_alias: { alias: 'tab\there\u0001\u001f"q"\\ \u2028\u2029\u007f' }, get_sysinfo: {} } });
  json("alias with NUL", { system: { set_dev_alias: { alias: "a\u0000b" }, get_sysinfo: {} } });
  json("alias not a string", { system: { set_dev_alias: { alias: 5 }, get_sysinfo: {} } });
  json("alias Küche again", { system: { set_dev_alias: { alias: ALIAS_KUECHE } } });

  // ---- time zones (the wall clock is fixed at 2024-06-01T12:00:00Z; set_* store a correction)
  text("time in the default zone", TIME);
  text("set_timezone GB", setTimezone(39, 2024, 6, 1, 13, 0, 0));
  text("set_timezone Kolkata", setTimezone(75, 2024, 12, 31, 23, 59, 59));
  text("set_timezone PST8PDT in the spring gap", setTimezone(6, 2024, 3, 10, 2, 30, 0));
  text("set_timezone Adelaide in the spring gap", setTimezone(93, 2024, 10, 6, 2, 15, 0));
  text("set_timezone Amsterdam in the autumn overlap", setTimezone(41, 2024, 10, 27, 2, 30, 0));
  text("set_timezone Newfoundland", setTimezone(27, 2024, 11, 3, 1, 30, 0));
  text("set_timezone Apia on February 29", setTimezone(108, 2024, 2, 29, 0, 0, 0));
  json("set_time far ahead", { time: { set_time: { year: 2099, month: 12, mday: 31, hour: 23, min: 59, sec: 59 }, get_time: {} } });
  json("set_timezone refused", {
    time: {
      set_timezone: { index: 110, year: 2024, month: 6, mday: 1, hour: 0, min: 0, sec: 0 },
      set_time: { year: 2023, month: 2, mday: 29, hour: 0, min: 0, sec: 0 },
      get_time: {},
    },
  });
  json("set_timezone index alone refused", { time: { set_timezone: { index: 42 }, get_timezone: {} } });
  text("set_timezone Belgrade", setTimezone(42, 2024, 6, 1, 14, 0, 0));

  // ---- Wi-Fi
  text("get_stainfo", '{"netif":{"get_stainfo":{}}}');
  text("get_scaninfo", '{"netif":{"get_scaninfo":{"refresh":1,"timeout":3}}}');
  text("get_scaninfo null", '{"netif":{"get_scaninfo":null}}');
  json("set_stainfo", { netif: { set_stainfo: { ssid: "Café 📶", password: "correct horse battery", key_type: 3 } } });
  text("get_stainfo after set_stainfo", '{"netif":{"get_stainfo":{}},"system":{"get_sysinfo":{}}}');
  json("set_stainfo refused", {
    netif: {
      set_stainfo: { ssid: "WEP", password: "12345", key_type: 1 },
      get_stainfo: {},
    },
  });
  json("set_stainfo short password", { netif: { set_stainfo: { ssid: "Home", password: "short", key_type: 3 } } });
  json("set_stainfo ssid too long", { netif: { set_stainfo: { ssid: "s".repeat(33), password: "long enough", key_type: 3 } } });
  json("set_stainfo hex key", { netif: { set_stainfo: { ssid: "Hex", password: "0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0123", key_type: 2 } } });
  json("set_stainfo open", { netif: { set_stainfo: { ssid: "客厅", key_type: 0 }, get_stainfo: {} } });

  // ---- location
  json("location floats", { system: { set_dev_location: { latitude: 37.7749, longitude: -122.4194 }, get_sysinfo: {} } });
  json("location floats rounded", { system: { set_dev_location: { latitude: -33.86882, longitude: 151.20929 }, get_sysinfo: {} } });
  text("location exponents and halves", '{"system":{"set_dev_location":{"latitude":1e1,"longitude":-1.5e2},"get_sysinfo":{}}}');
  text("location tiny halves", '{"system":{"set_dev_location":{"latitude":0.00005,"longitude":-0.00005},"get_sysinfo":{}}}');
  json("location long fractions", { system: { set_dev_location: { latitude: 12.3456789, longitude: 98.7654321 }, get_sysinfo: {} } });
  json("location edges", { system: { set_dev_location: { latitude: -90, longitude: 180 }, get_sysinfo: {} } });
  json("location _i", { system: { set_dev_location: { latitude_i: 515074, longitude_i: -1278 }, get_sysinfo: {} } });
  json("location refused", {
    system: {
      set_dev_location: { latitude: 90.00001, longitude: 0 },
      get_sysinfo: {},
    },
  });
  json("location _i not integers", { system: { set_dev_location: { latitude_i: 1.5, longitude_i: 0 } } });
  json("location one ten-thousandth", { system: { set_dev_location: { latitude_i: 1, longitude_i: -3 }, get_sysinfo: {} } });

  // ---- identity
  json("set_mac_addr dashes", { system: { set_mac_addr: { mac: "aa-bb-cc-dd-ee-0f" }, get_sysinfo: {} } });
  json("set_mac_addr bare", { system: { set_mac_addr: { mac: "A1b2C3d4E5f6" }, get_sysinfo: {} } });
  json("set_mac_addr refused", { system: { set_mac_addr: { mac: "zz:bb:cc:dd:ee:ff" }, set_mac_addr_: {}, get_sysinfo: {} } });
  json("set_mac_addr short", { system: { set_mac_addr: { mac: "AA:BB:CC:DD:EE" } } });
  json("set_device_id and set_hw_id", {
    system: {
      set_device_id: { deviceId: "8006abcdef0123456789abcdef0123456789abcd" },
      set_hw_id: { hwId: "0123456789abcdef0123456789ABCDEF" },
      get_sysinfo: {},
    },
  });
  json("set_dev_icon", { system: { set_dev_icon: { icon: "iVBORw0KGgo=", hash: "ada7e4b1b7f3cd0b6b3e1b6a8f0a8b8a" }, get_dev_icon: {}, get_sysinfo: {} } });
  json("set_led_off", { system: { set_led_off: { off: 1 }, get_sysinfo: {} } });

  // ---- cloud, energy meter, rules (no successful add_rule: its ids are random)
  json("cnCloud", {
    cnCloud: {
      get_info: {},
      set_server_url: { server: "n-devs.tplinkcloud.com" },
      bind: { username: "user@example.com", password: "secret" },
      unbind: {},
      get_intl_fw_list: {},
    },
  });
  text("cnCloud get_info after set_server_url", '{"cnCloud":{"get_info":{}}}');
  json("emeter", {
    emeter: {
      get_realtime: {},
      get_vgain_igain: {},
      set_vgain_igain: { vgain: 13000, igain: 16000 },
      get_daystat: { year: 2024, month: 13 },
      get_monthstat: { year: 2024 },
      erase_emeter_stat: {},
    },
  });
  text("emeter gains after set", '{"emeter":{"get_vgain_igain":{}}}');
  const weekly = { name: "evening", enable: 1, wday: [1, 1, 1, 1, 1, 0, 0], repeat: 1, stime_opt: 0, smin: 1140, sact: 1 };
  json("schedule", {
    schedule: {
      get_rules: {},
      add_rule: { ...weekly, smin: 1440 },
      edit_rule: { id: "0123456789ABCDEF0123456789ABCDEF", ...weekly },
      delete_rule: { id: "NOPE" },
      delete_all_rules: {},
      set_overall_enable: { enable: 0 },
      get_next_action: {},
      get_daystat: { year: 2024, month: 6 },
      erase_runtime_stat: {},
    },
  });
  json("anti_theft and count_down", {
    anti_theft: { get_rules: {}, add_rule: { name: "away", enable: 1 }, delete_rule: {}, set_overall_enable: { enable: 1 } },
    count_down: { get_rules: {}, add_rule: { enable: 1, delay: 0, act: 1 }, edit_rule: { id: "X", enable: 1, delay: 60, act: 0 }, delete_all_rules: {} },
  });
  // rules that are kept: ids made from seeds by 32-bit mixing, fields packed into settings and read back
  json("rules added", {
    schedule: {
      set_overall_enable: { enable: 1 },
      add_rule: { ...weekly, name: "Küche 🔌", stime_opt: 2, soffset: -45, etime_opt: 0, emin: 1380, eact: 0 },
    },
    anti_theft: { add_rule: { name: "away", enable: 1, wday: [0, 0, 0, 0, 0, 1, 1], repeat: 1, stime_opt: 0, smin: 1080, etime_opt: 0, emin: 1320, frequency: 5 } },
    count_down: { add_rule: { enable: 1, delay: 1800, act: 0, name: "off later" } },
  });
  json("a second rule, a one-shot", { schedule: { add_rule: { ...weekly, repeat: 0, year: 2031, month: 2, day: 28, smin: 1 } } });
  text("rules after", '{"schedule":{"get_rules":{}},"anti_theft":{"get_rules":{}},"count_down":{"get_rules":{}}}');
  json("reboot and reset later (timers never fire)", { system: { reboot: { delay: 1 }, reset: { delay: 5 } } });

  // ---- bytes: invalid UTF-8 inside a frame, an empty frame, big frames
  bytes("invalid UTF-8 in a string", '{"system":{"set_dev_alias":{"alias":"a', [0xff], "b", [0xc3], "c", [0xe2, 0x82], "d", [0xed, 0xa0, 0x80], [0xc0, 0xaf],
    [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x98], '"},"get_sysinfo":{}}}');
  bytes("invalid UTF-8 in a name", '{"', [0xf0, 0x9f, 0x98], '":{},"system":{"', [0xe0, 0x80, 0x80], '":{},"get_dev_icon":{}}}');
  bytes("invalid UTF-8 outside strings", '{"system":', [0xff], "}");
  bytes("UTF-8 byte order mark", [0xef, 0xbb, 0xbf], SYSINFO);
  bytes("raw 4-byte UTF-8", '{"system":{"set_dev_alias":{"alias":"', [0xf0, 0x9f, 0x94, 0x8c], [0xe5, 0xae, 0xa2], '"},"get_sysinfo":{}}}');
  raw("empty frame", "00000000");
  if (big) {
    const methods: string[] = [];
    for (let i = 0; i < 300; i++) methods.push(`"m${i}":{}`);
    text("300 unknown methods", `{"system":{${methods.join(",")}}}`);
    const room = MAX_FRAME_BYTES - '{"":{}}'.length;
    text("frame of exactly the size bound", `{"${"k".repeat(room)}":{}}`);
  }
  text("long non-ASCII module name", `{"${"ü".repeat(2000)}🔌":{},"system":{"get_dev_icon":{}}}`);

  // ---- the final state
  text("final sysinfo", SYSINFO);
  text("final time", TIME);
  return list;
}

/** The allocation budget's sequence (alloc-budget.ts): the corpus runs it first, on a fresh XS machine. */
export const BUDGET_SEQUENCE = "HS110 full tables";
/** A 32-byte rule name (MAX_RULE_NAME_BYTES of UTF-8), numbered: "üüüüüüüüüüüüüüü07". */
export const fullRuleName = (i: number) => "ü".repeat((MAX_RULE_NAME_BYTES - 2) / 2) + String(i).padStart(2, "0");

/**
 * An HS110 (entry.ts gives it no meter driver: it reads zero) with every rule table full, as
 * `npm run sim:memory` fills them (scripts/chip-memory.mjs): MAX_SCHEDULE_RULES (32) schedule rules with 32-byte names,
 * fixed, sunrise and sunset times and end actions, MAX_AWAY_RULES (6) away rules, a countdown. Then the requests the
 * budget measures: python-kasa's combined update and each table's get_rules. The clock is synced
 * (entry.ts), as rule changes need; the all-zero random source makes the rule ids the same each run.
 */
function budgetRequests(): CorpusRequest[] {
  const list: CorpusRequest[] = [];
  const json = (label: string, value: unknown, measure = false) => list.push({ label, frame: encodeFrame(JSON.stringify(value)), measure });
  const everyDay = [1, 1, 1, 1, 1, 1, 1];
  json("location for sunrise and sunset", { system: { set_dev_location: { latitude: 51.5, longitude: -0.125 } } });
  for (let i = 0; i < MAX_SCHEDULE_RULES; i++) {
    const smin = (300 + 7 * i) % 1440;
    json(`schedule rule ${i}`, {
      schedule: {
        add_rule: {
          name: fullRuleName(i), enable: 1, wday: everyDay, repeat: 1, stime_opt: i % 3, smin, soffset: i - 10, sact: i % 2,
          etime_opt: 0, emin: (smin + 2) % 1440, eact: 1 - (i % 2),
        },
      },
    });
  }
  json("schedule rule refused: table full", {
    schedule: { add_rule: { name: fullRuleName(99), enable: 1, wday: everyDay, repeat: 1, stime_opt: 0, smin: 0, sact: 1 } },
  });
  for (let i = 0; i < MAX_AWAY_RULES; i++) {
    const smin = (240 + 60 * i) % 1440;
    json(`away rule ${i}`, {
      anti_theft: {
        add_rule: { name: fullRuleName(i), enable: 1, wday: everyDay, repeat: 1, stime_opt: 0, smin, etime_opt: 0, emin: (smin + 30) % 1440, frequency: 60 },
      },
    });
  }
  json("countdown", { count_down: { add_rule: { name: fullRuleName(0), enable: 1, delay: 3600, act: 1 } } });
  json("python-kasa update", PYTHON_KASA_UPDATE_REQUEST, true);
  json("schedule.get_rules", { schedule: { get_rules: {} } }, true);
  json("anti_theft.get_rules", { anti_theft: { get_rules: {} } }, true);
  json("count_down.get_rules", { count_down: { get_rules: {} } }, true);
  return list;
}

/** The sequence of requests with names the plug does not know, each request new ones. */
export const NEW_NAMES_SEQUENCE = "HS110 new names";
/** Requests with new names, after one more of the same kind (so that whatever is made once is made before them). */
export const NEW_NAMES_REQUESTS = 300;

/**
 * Requests carrying names no request had before: a module, a method of a module the plug has, a
 * parameter of a method it has (nested in an object and a list too) and of one it lacks, one name
 * sent with an escape. In XS a property name becomes a key, and keys are never collected: were any
 * of these names made a key, each request would leave its names in the heap for good.
 */
function newNamesRequests(): CorpusRequest[] {
  const request = (n: string): CorpusRequest => ({
    label: `names ${n}`,
    frame: encodeFrame(
      `{"mod${n}":{"get_sysinfo":{}},"system":{"get_dev_icon":{"par${n}":1,"obj${n}":{"in${n}":[{"el${n}":0}]}},"met${n}":{"arg${n}":1}},` +
        `"count_down":{"delete_rule":{"id":"X","\u0069d${n}":2}}}`,
    ),
  });
  return [request("first"), ...Array.from({ length: NEW_NAMES_REQUESTS }, (_, i) => request(String(i)))];
}

/**
 * The budget's sequence first (so that nothing run before it moves its numbers), then one sequence
 * per personality, each starting from a fresh plug, HS100 first of those; then the new names.
 */
export function corpus(): CorpusSequence[] {
  const newNames = newNamesRequests();
  return [
    { name: BUDGET_SEQUENCE, model: "HS110", requests: budgetRequests() },
    ...PERSONALITIES.map((p, i) => ({ name: p.key, model: p.key, requests: requests(i === 0) })),
    { name: NEW_NAMES_SEQUENCE, model: "HS110", requests: newNames, heapAt: [newNames.length - NEW_NAMES_REQUESTS, newNames.length] },
  ];
}
