// Issue 16 item 5: every line a client can cause goes through the plug's one limiter, and nothing
// from the network reaches the console with its control characters.

import { describe, expect, it } from "vitest";
import { escapeControls, LOG_LINES_PER_MINUTE, ThrottledLog } from "../src/core/limits.js";
import { encodeFrame } from "./support/wire.js";
import { testPlug, type TestPlug } from "./support/fakes.js";

const NOT_SHOWN = /^\((\d+) more log lines not shown: over \d+ a minute\)$/;

/** A plug a quiet minute after boot: its boot lines are in an earlier minute than the test's. */
function quietPlug(): TestPlug {
  const t = testPlug();
  t.timers.advance(60_000);
  return t;
}

/** Control characters a terminal acts on: C0, DEL, C1. */
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe("the plug's one log limiter", () => {
  it(`logs at most ${LOG_LINES_PER_MINUTE} lines a minute of 500 locked commands, then says how many it left out`, async () => {
    const t = quietPlug();
    const before = t.logs.length;
    for (let i = 0; i < 500; i++) {
      const answer = await t.ask({ system: { set_mac_addr: { mac: "50-C7-BF-00-00-01" } } });
      expect(answer.system.set_mac_addr.err_code).not.toBe(0); // refused: nobody pressed the button
    }
    const minute = t.logs.slice(before);
    expect(minute.length).toBeLessThanOrEqual(LOG_LINES_PER_MINUTE);
    t.timers.advance(60_000);
    await t.ask({ system: { set_mac_addr: { mac: "50-C7-BF-00-00-01" } } });
    const next = t.logs.slice(before + minute.length);
    expect(next[0]).toMatch(NOT_SHOWN);
    expect(minute.length + Number(NOT_SHOWN.exec(next[0])![1])).toBe(500);
    expect(next.length).toBeLessThanOrEqual(2);
  });

  it("shares the one budget between every source a client can reach: refusals, bad frames, the relay flood guard, reboots", async () => {
    const t = quietPlug();
    const before = t.logs.length;
    for (let i = 0; i < 100; i++) {
      await t.ask({ system: { reset: { delay: 1 } } }); // locked
      await t.ask({ system: { set_relay_state: { state: i & 1 } } }); // the flood guard holds changes back
      await t.ask({ system: { reboot: { delay: 100 } } }); // each replaces the last delayed reboot
      const handler = t.kasa.accept!({ write: () => {}, unsent: () => 0, room: () => Infinity, close: () => {}, abort: () => {} });
      handler.data(new Uint8Array([0, 0, 0x7f, 0xff])); // a frame over the bound: closed and logged
    }
    expect(t.logs.length - before).toBeLessThanOrEqual(LOG_LINES_PER_MINUTE);
  });

  it("a ThrottledLog passes the limit, counts the rest, and never drops or counts a notice", () => {
    const out: string[] = [];
    let now = 0;
    const log = new ThrottledLog((l) => out.push(l), () => now, 3);
    for (let i = 0; i < 10; i++) log.line(`line ${i}`);
    log.notice("the owner's line");
    expect(out).toEqual(["line 0", "line 1", "line 2", "the owner's line"]);
    now = 60_000;
    log.line("next minute");
    expect(out.slice(4)).toEqual(["(7 more log lines not shown: over 3 a minute)", "next minute"]);
  });
});

describe("control characters from the network", () => {
  it("an alias with ESC[2J and a newline is logged as one line with the controls written out", async () => {
    const t = testPlug();
    const alias = "\u001b[2Jkitchen\nplug ready, relay on";
    expect((await t.ask({ system: { set_dev_alias: { alias } } })).system.set_dev_alias.err_code).toBe(0);
    const next = t.reboot();
    const ready = next.logs.filter((l) => l.includes("kitchen"));
    expect(ready).toEqual([expect.stringContaining('"\\x1b[2Jkitchen\\x0aplug ready, relay on"')]);
    expect(next.logs.some((l) => RAW_CONTROL.test(l))).toBe(false);
  });

  it("escapes C0 controls, DEL and C1 controls, and leaves every other character (and a clean line) as it is", () => {
    expect(escapeControls("tab\there\r\n\u0000\u007f\u0085\u009b[2J")).toBe("tab\\x09here\\x0d\\x0a\\x00\\x7f\\u0085\\u009b[2J");
    const clean = "Küche \u00a0plug 🔌 \u2028 \\x1b";
    expect(escapeControls(clean)).toBe(clean);
    expect(escapeControls("")).toBe("");
  });
});
