// The plug that scripts/xs-measure.mjs measures inside XS (@agoric/xsnap): a test plug (host-tests/support/fakes.ts)
// on a fixed clock, driven by globals the script calls. Bundled by esbuild into one plain script.

import type { RequestContext } from "../src/core/protocol/dispatcher.js";
import { MAX_AWAY_RULES } from "../src/core/modules/anti_theft.js";
import { MAX_SCHEDULE_RULES } from "../src/core/modules/schedule.js";
import { JsonOut } from "../src/core/protocol/wire/json-out.js";
import { utf8Decode, utf8Encode } from "../src/core/protocol/wire/utf8.js";
import { decrypt } from "../src/core/protocol/wire/xor.js";
import { FakeClock, MemoryStore, testPlug, type TestPlug } from "../host-tests/support/fakes.js";

const g = globalThis as typeof globalThis & { [name: string]: unknown };
const context: RequestContext = { afterReply() {} };
const NAME = "ü".repeat(16); // 32 bytes of UTF-8, the longest rule name
const weekly = (smin: number, sact: number, extra = {}) => ({ name: NAME, enable: 1, wday: [1, 1, 1, 1, 1, 1, 1], repeat: 1, stime_opt: 0, smin, sact, ...extra });

let store = new MemoryStore();
let clock = new FakeClock(Date.UTC(2024, 5, 1, 12, 0, 0));
let t: TestPlug | undefined;
/** The last schedule rule's id (the test plug's random source is a fixed sequence). */
let lastId = "";
let edits = 0;

/** Writes answers as the server does (a size pass, then the write pass), here into one datagram. */
const out = new JsonOut(new Uint8Array(256));

/** The answer's text: dispatched and written (the writer's stack counts too). */
function answerOf(request: Uint8Array): string {
  const answer = t!.plug.dispatcher.handle(request, context);
  if (answer instanceof Promise) throw new Error(`${utf8Decode(request)} did not answer at once`);
  return utf8Decode(decrypt(out.datagram(answer, out.measure(answer))));
}

function ask(text: string): string {
  return answerOf(utf8Encode(text));
}

/** What the plug logged and switched is the test's, not the plug's: dropped before a measurement. */
function quiet(): void {
  if (t === undefined) return;
  t.logs.length = 0;
  t.relay.length = 0;
  t.switches.length = 0;
  t.led.length = 0;
}

/** A fresh store and a plug booted on it. */
g.boot = (model: string) => {
  store = new MemoryStore();
  clock = new FakeClock(Date.UTC(2024, 5, 1, 12, 0, 0));
  t = testPlug({ model, forceModel: true }, { store, clock });
  t.timers.advance(0);
  quiet();
};

/** Every table full: schedule rules (fixed, sunrise, sunset with an end), away rules (one in its window) and a countdown, all named NAME. */
g.fillRules = () => {
  for (let i = 0; i < MAX_SCHEDULE_RULES; i++) {
    const extra = i % 4 === 1 ? { stime_opt: 1, soffset: -15 } : i % 4 === 2 ? { stime_opt: 2, soffset: 20, etime_opt: 0, emin: 1380, eact: 0 } : {};
    const added = JSON.parse(ask(JSON.stringify({ schedule: { add_rule: weekly((i * 67) % 1440, i % 2, extra) } }))).schedule.add_rule;
    if (added.err_code !== 0) throw new Error("add_rule failed");
    lastId = added.id;
  }
  for (let i = 0; i < MAX_AWAY_RULES; i++) ask(JSON.stringify({ anti_theft: { add_rule: { ...weekly(i === 0 ? 0 : 600 + i, 1), etime_opt: 0, emin: i === 0 ? 1439 : 700, frequency: 5 } } }));
  ask(JSON.stringify({ count_down: { add_rule: { enable: 1, delay: 3600, act: 1, name: NAME } } }));
  t!.timers.advance(0);
  quiet();
};

/** The plug stops and boots again on its store. */
g.reboot = () => {
  t!.plug.stop();
  t = t!.reboot();
  t.timers.advance(0);
  quiet();
};

g.advance = (ms: number) => {
  t!.timers.advance(ms);
  quiet();
};

/** Drops the plug and keeps its store (the store is in flash on a device: measured apart). */
g.dropPlug = () => {
  t = undefined;
};

g.dropStore = () => {
  store = new MemoryStore();
};

g.ask = (text: string) => ask(text);

// ---- stack depth: f under n frames of `pad`, then k more slots (the arguments `apply` pushes) ----

function pad(n: number, f: () => unknown): unknown {
  if (n === 0) return f();
  const r = pad(n - 1, f); // not a tail call: each level keeps its frame
  return r;
}

function inner(this: { f: () => unknown }): unknown {
  const r = this.f();
  return r;
}

const references: { [text: string]: string } = {};

/**
 * Whether `what` completes with n pad frames and k slots under it; an ArrayBuffer [0 or 1]. `what`:
 * "idle", "boot" (a plug booting on the store), "edit" (edit_rule of the last schedule rule, its id in
 * lower case so that find compares every rule's, to a new minute each time so that its setting is
 * written each time) or a request text.
 */
g.probe = (what: string, n: number, k: number) => {
  const request = () => (what === "edit" ? JSON.stringify({ schedule: { edit_rule: { id: lastId.toLowerCase(), ...weekly(edits++ % 1440, 1) } } }) : what);
  if (what !== "idle" && what !== "boot") references[what] ??= ask(request()); // the answer at the bottom of the stack
  // encoded here: under the padding, only what the server runs (it hands the dispatcher bytes)
  const bytes = utf8Encode(request());
  const f =
    what === "idle" ? () => 0
    : what === "boot" ? () => (t = testPlug({ model: t!.plug.context.personality.model, forceModel: true }, { store, clock }))
    : () => answerOf(bytes);
  const before = t;
  const result = pad(n, () => inner.apply({ f }, new Array(k)));
  const ok = what === "idle" || (what === "boot" ? t !== before : result === references[what]);
  return new Uint8Array([ok ? 1 : 0]).buffer;
};
