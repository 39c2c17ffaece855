// A KLAP plug with its device limits (an ESP8266's) and every rule table full, as the chip-true
// memory check leaves it (scripts/chip-memory.mjs --mode secure|both): python-kasa's update and the
// rule lists must come back whole over KLAP, as they do on port 9999.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { KlapServer } from "../src/core/klap/klap-server.js";
import { DEVICE_LIMITS, type Limits } from "../src/core/limits.js";
import { MAX_AWAY_RULES } from "../src/core/modules/anti_theft.js";
import { MAX_SCHEDULE_RULES } from "../src/core/modules/schedule.js";
import { KasaServer } from "../src/core/protocol/server.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { NodeTcpListener } from "../src/host/net.js";
import { testPlug } from "./support/fakes.js";
import { authHashOf, klapConnect, type KlapClient } from "../src/host/klap-client.js";

const USER = "owner@example.com";
const PASSWORD = "correct horse battery staple";
const UPDATE = JSON.parse(readFileSync(new URL("./support/python-kasa-update.json", import.meta.url), "utf8"));

const closing: { close(): void }[] = [];
afterEach(() => {
  for (const c of closing.splice(0)) c.close();
});

async function fullPlug(): Promise<KlapClient> {
  const t = testPlug();
  const limits: Limits = DEVICE_LIMITS;
  const log = () => {};
  const now = () => t.clock.monotonic();
  const kasa = new KasaServer(t.plug.dispatcher, { log, timers: t.timers, now }, limits);
  const hash = new Uint8Array(authHashOf(USER, PASSWORD));
  const klap = new KlapServer(kasa, { crypto: nodeCrypto, random: (n) => new Uint8Array(randomBytes(n)), log, timers: t.timers, now }, { authHash: () => hash }, limits);
  const listener = await NodeTcpListener.open(0, "127.0.0.1");
  klap.start(listener);
  closing.push({ close: () => (klap.stop(), listener.unbind()) });
  // every table full, the longest names (32 bytes of UTF-8)
  const name = "ü".repeat(16);
  const wday = [1, 1, 1, 1, 1, 1, 1];
  for (let i = 0; i < MAX_SCHEDULE_RULES; i++) {
    const a = await t.ask({ schedule: { add_rule: { name, enable: 1, wday, repeat: 1, stime_opt: i % 3, smin: 600 + i, soffset: i - 10, sact: i % 2, etime_opt: 0, emin: 700 + i, eact: 1 - (i % 2) } } });
    expect(a.schedule.add_rule.err_code).toBe(0);
  }
  for (let i = 0; i < MAX_AWAY_RULES; i++) {
    const a = await t.ask({ anti_theft: { add_rule: { name, enable: 1, wday, repeat: 1, stime_opt: 0, smin: 60 * i, etime_opt: 0, emin: 60 * i + 30, frequency: 60 } } });
    expect(a.anti_theft.add_rule.err_code).toBe(0);
  }
  expect((await t.ask({ count_down: { add_rule: { name, enable: 1, delay: 30, act: 1 } } })).count_down.add_rule.err_code).toBe(0);
  const client = await klapConnect("127.0.0.1", listener.port, USER, PASSWORD);
  closing.push(client);
  return client;
}

describe("KLAP with every rule table full (device limits)", () => {
  it("answers python-kasa's update and the rule lists whole, not with 'answer over N bytes'", async () => {
    const client = await fullPlug();
    const update = await client.request(UPDATE);
    expect(update.system.get_sysinfo.err_code).toBe(0);
    expect(update.schedule.get_rules.err_code).toBe(0);
    expect(update.schedule.get_rules.rule_list).toHaveLength(MAX_SCHEDULE_RULES);
    expect(update.anti_theft.get_rules.rule_list).toHaveLength(MAX_AWAY_RULES);
    const rules = await client.request({ schedule: { get_rules: {}, get_next_action: {} }, count_down: { get_rules: {} }, anti_theft: { get_rules: {} } });
    expect(rules.schedule.get_rules.rule_list).toHaveLength(MAX_SCHEDULE_RULES);
    expect(rules.anti_theft.get_rules.rule_list).toHaveLength(MAX_AWAY_RULES);
    expect(rules.count_down.get_rules.rule_list).toHaveLength(1);
  });
});
