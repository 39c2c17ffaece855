import { describe, expect, it, vi } from "vitest";
import { MEMBER_NOT_SUPPORT, MODULE_NOT_SUPPORT } from "../src/core/protocol/errors.js";
import { SETTINGS_SAVE_DELAY_MS } from "../src/core/timing.js";
import { testPlug } from "./support/fakes.js";
import { answerText } from "./support/wire.js";
import { Members } from "../src/core/protocol/wire/json-out.js";
import { utf8Encode } from "../src/core/protocol/wire/utf8.js";

const MODULE = { err_code: -1, err_msg: "module not support" };
const MEMBER = { err_code: -2, err_msg: "member not support" };
const INVALID = { err_code: -3, err_msg: "invalid argument" };

describe("dispatcher", () => {
  it("answers every module and method in request order, each with err_code", async () => {
    const t = testPlug();
    const text = '{"time":{"get_timezone":{},"get_time":{}},"system":{"set_relay_state":{"state":1},"get_sysinfo":{}},"cnCloud":{"get_info":{}}}';
    const answer = await t.ask(text);
    expect(Object.keys(answer)).toEqual(["time", "system", "cnCloud"]);
    expect(Object.keys(answer.time)).toEqual(["get_timezone", "get_time"]);
    expect(Object.keys(answer.system)).toEqual(["set_relay_state", "get_sysinfo"]);
    for (const mod of Object.values(answer) as Record<string, { err_code: number }>[]) {
      for (const result of Object.values(mod)) expect(result.err_code).toBe(0);
    }
    // the relay was switched before sysinfo was read: methods run in order
    expect(answer.system.get_sysinfo.relay_state).toBe(1);
  });

  it("answers synchronously unless a method waits, and then keeps the request order", async () => {
    const t = testPlug();
    const context = { afterReply() {} };
    expect(t.plug.dispatcher.handle(utf8Encode('{"system":{"get_sysinfo":{}}}'), context)).not.toBeInstanceOf(Promise);
    let finish!: () => void;
    t.wifi.scan = (done) => (finish = () => done([{ ssid: "Late", keyType: 3, rssi: -40 }]));
    const pending = t.plug.dispatcher.handle(utf8Encode('{"netif":{"get_scaninfo":{"refresh":1}},"system":{"set_relay_state":{"state":1}}}'), context);
    expect(pending).toBeInstanceOf(Promise);
    // the method after the waiting one has already run
    expect(t.relay.at(-1)).toBe(true); // (the first entry is the power-on state)
    finish();
    const answer = JSON.parse(answerText(await pending));
    expect(Object.keys(answer)).toEqual(["netif", "system"]);
    expect(answer.netif.get_scaninfo.ap_list.map((n: { ssid: string }) => n.ssid)).toEqual(["Late"]);
    expect(answer.system.set_relay_state).toEqual({ err_code: 0 });
  });

  it("answers unknown modules at module level with -1, smartlife.iot.* included", async () => {
    const t = testPlug();
    const answer = await t.ask({
      "smartlife.iot.homekit": { setup_info_get: {} },
      "smartlife.iot.dimmer": { get_dimmer_parameters: {} },
      "smartlife.iot.common.emeter": { get_realtime: {} },
      bogus: {},
      system: { get_sysinfo: {} },
    });
    expect(answer["smartlife.iot.homekit"]).toEqual(MODULE);
    expect(answer["smartlife.iot.dimmer"]).toEqual(MODULE);
    expect(answer["smartlife.iot.common.emeter"]).toEqual(MODULE);
    expect(answer.bogus).toEqual(MODULE);
    expect(answer.system.get_sysinfo.err_code).toBe(0);
  });

  it("answers unknown methods of known modules with -2 next to the others", async () => {
    const t = testPlug();
    const answer = await t.ask({
      schedule: { get_rules: {}, get_realtime: {} },
      anti_theft: { get_next_action: {} },
      cnCloud: { set_sefserver_url: { server: "deventry.tplinkcloud.com" } },
      system: { set_test_mode: { enable: 1 }, toString: {}, __proto__: {} },
    });
    expect(answer.schedule.get_rules.err_code).toBe(0);
    expect(answer.schedule.get_realtime).toEqual(MEMBER);
    expect(answer.anti_theft.get_next_action).toEqual(MEMBER);
    expect(answer.cnCloud.set_sefserver_url).toEqual(MEMBER);
    expect(answer.system.set_test_mode).toEqual(MEMBER);
    expect(answer.system.toString).toEqual(MEMBER);
  });

  it("treats __proto__ and other inherited names as plain unknown names", async () => {
    const t = testPlug();
    const answer = await t.ask('{"__proto__":{"x":{}},"constructor":{},"system":{"__proto__":{},"hasOwnProperty":{}}}');
    expect(Object.keys(answer)).toEqual(["__proto__", "constructor", "system"]);
    expect(answer.constructor).toEqual(MODULE);
    expect(answer.system.hasOwnProperty).toEqual(MEMBER);
  });

  it("accepts params {}, null and whitespace-laden JSON; refuses params that are not objects", async () => {
    const t = testPlug();
    const answer = await t.ask('{ "system" : { "get_sysinfo" : null } , "time": {"get_time": {}, "get_timezone": 5, "set_time": "now"}}');
    expect(answer.system.get_sysinfo.err_code).toBe(0);
    expect(answer.time.get_time.err_code).toBe(0);
    expect(answer.time.get_timezone).toEqual(INVALID);
    expect(answer.time.set_time).toEqual(INVALID);
  });

  it("answers a module whose value is not an object with -3 at module level", async () => {
    const t = testPlug();
    expect(await t.ask({ system: 1, time: [] })).toEqual({ system: INVALID, time: INVALID });
  });

  it("answers text that is not a JSON object with {} and changes nothing", async () => {
    const t = testPlug();
    const before = [...t.store.values];
    for (const text of ["", "{emeter:{}}", "[1,2]", "null", "42", '"x"', "{", '{"system":{"set_relay_state":{"state":1}}'])
      expect(await t.ask(text)).toEqual({});
    expect([...t.store.values]).toEqual(before);
    expect(t.relay).toEqual([false]);
  });

  it("consumes a leading context and answers a later one with -1", async () => {
    const t = testPlug();
    expect(await t.ask({ context: { source: "x" }, system: { set_led_off: { off: 1 } } })).toEqual({ system: { set_led_off: { err_code: 0 } } });
    const later = await t.ask({ system: { set_led_off: { off: 0 } }, context: {} });
    expect(later.context).toEqual(MODULE);
  });

  it("lets the last of duplicate keys win, as real plugs do", async () => {
    const t = testPlug();
    const answer = await t.ask('{"system":{"set_relay_state":{"state":0}},"system":{"set_relay_state":{"state":1}}}');
    expect(answer).toEqual({ system: { set_relay_state: { err_code: 0 } } });
    expect(t.plug.context.device.relay).toBe(true);
  });

  it("keeps going when one method is refused: the others still run", async () => {
    const t = testPlug();
    const answer = await t.ask({ system: { set_relay_state: { state: 7 }, set_dev_alias: { alias: "Desk" } } });
    expect(answer.system.set_relay_state).toEqual(INVALID);
    expect(answer.system.set_dev_alias).toEqual({ err_code: 0 });
    expect(t.plug.context.device.alias).toBe("Desk");
    expect(t.plug.context.device.relay).toBe(false);
  });

  it("carries on when a setting cannot be stored: its write, 3 s later, is logged, and a restart reads the old value", async () => {
    const t = testPlug();
    t.timers.advance(SETTINGS_SAVE_DELAY_MS); // the first boot's own settings
    t.store.failWrites = true;
    const answer = await t.ask({ system: { set_dev_alias: { alias: "Lost" }, get_sysinfo: {} } });
    // writes wait (settings.ts): the failure shows when the write comes
    expect(answer.system.set_dev_alias).toEqual({ err_code: 0 });
    t.timers.advance(SETTINGS_SAVE_DELAY_MS);
    expect(t.logs).toContain("settings: alias could not be stored (the store is full or failing)");
    t.store.failWrites = false;
    expect((await t.reboot().ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.alias).toBe("TP-LINK_Smart Plug_577E");
  });
});

describe("names the plug does not know", () => {
  // On XS such a name must never become a property key (dispatcher.ts): the answers stay as they were.
  const MODULE_TEXT = '{"err_code":-1,"err_msg":"module not support"}';
  const MEMBER_TEXT = '{"err_code":-2,"err_msg":"member not support"}';
  const INVALID_TEXT = '{"err_code":-3,"err_msg":"invalid argument"}';
  /** The answer's text, as the plug writes it. */
  const answer = async (t: ReturnType<typeof testPlug>, request: string) => answerText(await t.plug.dispatcher.handle(utf8Encode(request), { afterReply() {} }));

  it("echoes an unknown module with -1 and an unknown method with -2", async () => {
    const t = testPlug();
    expect(await answer(t, '{"foo":{"bar":{}}}')).toBe(`{"foo":${MODULE_TEXT}}`);
    expect(await answer(t, '{"system":{"nope":{}}}')).toBe(`{"system":{"nope":${MEMBER_TEXT}}}`);
  });

  it("ignores parameters it does not read, at any depth", async () => {
    const t = testPlug();
    expect(await answer(t, '{"system":{"set_relay_state":{"bogus":2,"state":1,"deep":{"x":[{"y":1}],"state":0}}}}')).toBe('{"system":{"set_relay_state":{"err_code":0}}}');
    expect(t.plug.context.device.relay).toBe(true);
  });

  it("answers in the request's order, names that are array indices first, as JSON.parse orders an object's keys", async () => {
    const t = testPlug();
    expect(await answer(t, '{"zeta":{},"system":{"b":{},"set_led_off":{"off":0},"1":{}},"2":{},"alpha":5,"10":null,"02":{}}')).toBe(
      `{"2":${MODULE_TEXT},"10":${MODULE_TEXT},"zeta":${MODULE_TEXT},"system":{"1":${MEMBER_TEXT},"b":${MEMBER_TEXT},"set_led_off":{"err_code":0}},` +
        `"alpha":${MODULE_TEXT},"02":${MODULE_TEXT}}`,
    );
  });

  it("reads names with escapes as JSON.parse does, known and unknown ones", async () => {
    const t = testPlug();
    const request = String.raw`{"\u0073ystem":{"set_led_\u006ff\u0066":{"\u006ff\u0066":1}},"b\u00f6gus\"\\\ud800":{}}`;
    expect(await answer(t, request)).toBe(`{"system":{"set_led_off":{"err_code":0}},${String.raw`"bögus\"\\\ud800"`}:${MODULE_TEXT}}`);
    expect(t.plug.context.device.ledOff).toBe(1);
  });

  it("answers a name sent twice once, in its first place, for the value sent last", async () => {
    const t = testPlug();
    expect(await answer(t, '{"nope":{},"system":{"x":{}},"nope":5,"system":{"y":{},"x":1,"y":null}}')).toBe(
      `{"nope":${MODULE_TEXT},"system":{"y":${MEMBER_TEXT},"x":${MEMBER_TEXT}}}`,
    );
  });

  it("a plug without a meter that refuses each emeter method: -1 for any method, -3 for parameters neither an object nor null", async () => {
    const t = testPlug({ model: "HS105" });
    expect(await answer(t, '{"emeter":{"get_realtime":{},"made_up":{"p":1},"n":null,"bad":5,"list":[]}}')).toBe(
      `{"emeter":{"get_realtime":${MODULE_TEXT},"made_up":${MODULE_TEXT},"n":${MODULE_TEXT},"bad":${INVALID_TEXT},"list":${INVALID_TEXT}}}`,
    );
  });
});

describe("answers on a device", () => {
  // XS preloads module-level objects (the shared error answers among them) into flash, read-only.
  // The answer writer only reads the tree, so an answer may hold them as they are.
  /** Freezes the answer tree as a device's flash would hold it; a value that writes itself (a rule list) is the plug's own state, left alone. */
  function deepFreeze(value: unknown): unknown {
    if (typeof value === "object" && value !== null && typeof (value as { writeJson?: unknown }).writeJson !== "function") {
      for (const v of Object.values(Object.freeze(value))) deepFreeze(v);
    }
    return value;
  }

  it("writes answers holding shared, read-only objects as they are: errors are not copied", async () => {
    for (const model of ["HS100", "HS105", "KP115"]) {
      const t = testPlug({ model });
      const request = {
        "smartlife.iot.homekit": { setup_info_get: {} },
        system: { get_sysinfo: {}, bogus: {}, set_relay_state: { state: 5 }, set_dev_alias: { alias: "x" } },
        time: [],
        emeter: { get_realtime: {}, get_daystat: { year: 2024, month: 1 } },
        schedule: { get_rules: {}, get_next_action: {}, get_realtime: {}, get_daystat: { year: 2024, month: 1 } },
        anti_theft: { get_rules: {}, get_next_action: {} },
        count_down: { get_rules: {}, add_rule: { enable: 1, delay: 5, act: 1 } },
        cnCloud: { get_info: {}, bind: { username: "a", password: "b" } },
        netif: { get_stainfo: {}, get_scaninfo: {}, set_stainfo: { ssid: "x", key_type: 1 } },
      };
      const tree = (await t.plug.dispatcher.handle(utf8Encode(JSON.stringify(request)), { afterReply() {} })) as Members;
      const member = (m: Members, name: string) => m.values[m.names.indexOf(name)];
      expect(member(tree, "smartlife.iot.homekit")).toBe(MODULE_NOT_SUPPORT); // the shared one, not a copy
      expect(member(member(tree, "system") as Members, "bogus")).toBe(MEMBER_NOT_SUPPORT);
      const text = answerText(tree);
      expect(answerText(deepFreeze(tree))).toBe(text);
      expect(JSON.parse(text).system.bogus).toEqual(MEMBER);
    }
  });
});
