// The Wi-Fi state machine, the button and the status LED on fake time and a scripted radio.

import { describe, expect, it } from "vitest";
import { JOIN_RESULT } from "../src/core/onboarding/onboarding.js";
import {
  DEBOUNCE_MS, JOIN_TIMEOUT_MS, LED_PATTERN, RADIO_SWITCH_DELAY_MS, RECONNECT_FIRST_MS, RECONNECT_MAX_MS, RESET_HOLD_MS, SETUP_HOLD_MS, SETUP_IDLE_MS, UNLOCK_HOLD_MS,
} from "../src/core/timing.js";
import { PRESENCE_REQUIRED } from "../src/core/device/presence.js";
import { PRESENCE_WINDOW_MS, SETUP_MAX_MS } from "../src/core/timing.js";
import { decodeDatagram, FrameDecoder } from "../src/core/protocol/wire/frame.js";
import { utf8Decode } from "../src/core/protocol/wire/utf8.js";
import { FakeWifi, LAN_CLIENT, SETUP_CLIENT, testPlug, type TestPlug } from "./support/fakes.js";
import { encodeDatagram, encodeFrame } from "./support/wire.js";

const SETUP_SSID = "TP-LINK_Smart Plug_577E";

/** A plug that has never been provisioned (a factory-fresh radio). */
function factoryPlug(options = {}): TestPlug {
  const wifi = new FakeWifi();
  wifi.forget();
  return testPlug(options, { wifi });
}

const state = (t: TestPlug) => t.plug.context.onboarding.state;

async function stainfo(t: TestPlug, ssid: string, password: string) {
  const answer = await t.ask({ netif: { set_stainfo: { ssid, password, key_type: 3 } } });
  expect(answer.netif.set_stainfo.err_code).toBe(0);
  t.timers.advance(RADIO_SWITCH_DELAY_MS);
}

/** Holds the button for `ms` (with contact bounce on both edges), then lets go. */
function hold(t: TestPlug, ms: number) {
  t.button(true);
  t.button(false);
  t.button(true); // bounce
  t.timers.advance(ms);
  t.button(false);
  t.button(true);
  t.button(false); // bounce
  t.timers.advance(DEBOUNCE_MS);
}

describe("setup network", () => {
  it("opens at first boot, WPA2 with a generated passphrase that is stored, printed at every boot and kept by a reset", () => {
    const t = factoryPlug();
    expect(state(t)).toBe("setup");
    const passphrase = t.wifi.accessPoint!.passphrase;
    expect(t.wifi.accessPoint!.ssid).toBe(SETUP_SSID);
    expect(passphrase).toMatch(/^[a-km-np-z2-9]{4}-[a-km-np-z2-9]{4}-[a-km-np-z2-9]{4}$/);
    expect(t.logs.some((l) => l.includes(`"${SETUP_SSID}" is up`) && l.includes(passphrase))).toBe(true);
    const again = t.reboot();
    expect(again.wifi.accessPoint!.passphrase).toBe(passphrase);
    expect(again.logs.some((l) => l.includes(passphrase))).toBe(true);
    again.plug.context.restart.factoryReset();
    expect(again.reboot().wifi.accessPoint!.passphrase).toBe(passphrase);
    expect(t.http.listening).toBe(true);
  });

  it("takes a passphrase from the build when it has at least 12 characters, and opens an open network only when asked", () => {
    expect(factoryPlug({ onboarding: { setupPassphrase: "label-on-the-box" } }).wifi.accessPoint!.passphrase).toBe("label-on-the-box");
    const short = factoryPlug({ onboarding: { setupPassphrase: "short" } });
    expect(short.wifi.accessPoint!.passphrase).toHaveLength(14);
    expect(short.logs.join("\n")).toContain("not 12-63 printable ASCII characters: ignored");
    const open = factoryPlug({ onboarding: { openSetup: true } });
    expect(open.wifi.accessPoint!.passphrase).toBe("");
    expect(open.logs.join("\n")).toContain("OPEN");
  });

  it("closes after 10 minutes without a client; a client sign starts the 10 minutes again", async () => {
    const t = factoryPlug();
    t.timers.advance(SETUP_IDLE_MS - 1000);
    t.wifi.emit("client");
    t.timers.advance(SETUP_IDLE_MS - 1000);
    await t.ask({ system: { get_sysinfo: {} } });
    const page = t.http.connect(); // the setup page counts too
    page.handler.data(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    t.timers.advance(SETUP_IDLE_MS - 1);
    expect(state(t)).toBe("setup");
    t.timers.advance(1);
    expect(state(t)).toBe("unprovisioned");
    expect(t.wifi.accessPoint).toBeNull();
    expect(t.http.listening).toBe(false);
    // a restart of an unprovisioned plug opens it again
    expect(state(t.reboot())).toBe("setup");
  });

  it("on a provisioned plug opens only on a 5-second hold, and closes back to the saved network", () => {
    const t = testPlug();
    expect(state(t)).toBe("joined");
    t.timers.advance(24 * 3600 * 1000);
    expect(t.wifi.accessPointOpens).toBe(0);
    hold(t, SETUP_HOLD_MS);
    expect(state(t)).toBe("setup");
    expect(t.wifi.accessPoint!.ssid).toBe(SETUP_SSID);
    t.timers.advance(SETUP_IDLE_MS);
    expect(state(t)).toBe("joined");
    expect(t.wifi.accessPoint).toBeNull();
  });
});

/** One Kasa request over a TCP connection from `from` (the Kasa server's whole path: accept, frame, answer, effects). */
function overTcp(t: TestPlug, from: string, request: unknown): any {
  const answers: string[] = [];
  const decoder = new FrameDecoder(1 << 20);
  const handler = t.kasa.accept!({ write: (b) => decoder.feed(b, (p) => answers.push(utf8Decode(p))), unsent: () => 0, room: () => Infinity, close() {}, abort() {} }, from);
  handler.data(encodeFrame(JSON.stringify(request)));
  handler.end();
  return answers.length === 1 ? JSON.parse(answers[0]) : undefined;
}

/** The setup page's form posted from `from`: the status line of the answer. */
function postJoin(t: TestPlug, from: string, body: string): string {
  const c = t.http.connect(from);
  c.handler.data(new TextEncoder().encode(`POST /join HTTP/1.1\r\nHost: 192.168.4.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
  return c.text.slice(0, c.text.indexOf("\r\n"));
}

const MOVE = { netif: { set_stainfo: { ssid: "Elsewhere", password: "12345678", key_type: 3 } } };

describe("setup mode on a provisioned plug cannot be held open from the home network", () => {
  it("LAN datagrams, Kasa connections and page requests every minute do not keep it up: it closes at its idle time", () => {
    const t = testPlug();
    hold(t, SETUP_HOLD_MS);
    expect(state(t)).toBe("setup");
    for (let minute = 1; minute <= SETUP_IDLE_MS / 60000; minute++) {
      t.timers.advance(60 * 1000);
      if (state(t) !== "setup") break;
      t.udp.receive(new Uint8Array([0x13, 0x37, 0x00]), LAN_CLIENT); // garbage
      t.udp.receive(encodeDatagram('{"system":{"get_sysinfo":{}}}'), LAN_CLIENT);
      expect(overTcp(t, LAN_CLIENT, { system: { get_sysinfo: {} } }).system.get_sysinfo.err_code).toBe(0);
      t.http.connect(LAN_CLIENT).handler.data(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    expect(state(t)).toBe("joined");
    expect(t.wifi.accessPoint).toBeNull();
    expect(t.http.listening).toBe(false);
    expect(t.logs).toContain(`setup network closed after ${SETUP_IDLE_MS / 60000} minutes without a client`);
  });

  it("its own clients keep it up, for at most SETUP_MAX_MS from opening; an unprovisioned plug's stays up while they come", () => {
    const signs = (t: TestPlug) => {
      t.wifi.emit("client");
      t.http.connect(SETUP_CLIENT).handler.data(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      overTcp(t, SETUP_CLIENT, { system: { get_sysinfo: {} } });
    };
    const t = testPlug();
    hold(t, SETUP_HOLD_MS);
    const fresh = factoryPlug();
    for (let minute = 1; minute < SETUP_MAX_MS / 60000; minute++) {
      t.timers.advance(60 * 1000);
      fresh.timers.advance(60 * 1000);
      signs(t);
      signs(fresh);
    }
    expect(state(t)).toBe("setup"); // well past the idle time: its clients are there
    t.timers.advance(60 * 1000);
    expect(state(t)).toBe("joined");
    expect(t.wifi.accessPoint).toBeNull();
    expect(t.http.listening).toBe(false);
    expect(t.logs).toContain(`setup network closed ${SETUP_MAX_MS / 60000} minutes after it opened`);
    fresh.timers.advance(60 * 1000);
    signs(fresh);
    fresh.timers.advance(SETUP_IDLE_MS - 1);
    expect(state(fresh)).toBe("setup");
  });

  it("set_stainfo from the home network needs a press even in setup; from the setup network it is open while setup is up", () => {
    const t = testPlug();
    hold(t, SETUP_HOLD_MS);
    t.timers.advance(PRESENCE_WINDOW_MS + 1); // whatever the hold's press opened is closed again
    expect(state(t)).toBe("setup");
    expect(overTcp(t, LAN_CLIENT, MOVE).netif.set_stainfo).toEqual(PRESENCE_REQUIRED);
    // a datagram claiming to come from the setup network: its source may be forged
    t.udp.receive(encodeDatagram(JSON.stringify(MOVE)), SETUP_CLIENT);
    expect(JSON.parse(decodeDatagram(t.udp.sent.at(-1)!.bytes)).netif.set_stainfo).toEqual(PRESENCE_REQUIRED);
    expect(postJoin(t, LAN_CLIENT, "s=other&o=Elsewhere&k=3&p=12345678")).toBe("HTTP/1.1 403 Forbidden");
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.wifi.joined).toEqual([]);
    expect(state(t)).toBe("setup");
    // the owner's phone on the setup network (WPA2, the passphrase on the label)
    expect(overTcp(t, SETUP_CLIENT, MOVE).netif.set_stainfo.err_code).toBe(0);
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.wifi.joined.map((c) => c.ssid)).toEqual(["Elsewhere"]);
  });

  it("the page's form from the setup network moves it; once setup closed, a setup-network address opens nothing", () => {
    const t = testPlug();
    hold(t, SETUP_HOLD_MS);
    t.timers.advance(SETUP_MAX_MS);
    expect(state(t)).toBe("joined");
    expect(overTcp(t, SETUP_CLIENT, MOVE).netif.set_stainfo).toEqual(PRESENCE_REQUIRED);
    hold(t, SETUP_HOLD_MS);
    t.timers.advance(PRESENCE_WINDOW_MS + 1);
    expect(postJoin(t, SETUP_CLIENT, "s=other&o=Elsewhere&k=3&p=12345678")).toBe("HTTP/1.1 200 OK");
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(t.wifi.joined.map((c) => c.ssid)).toEqual(["Elsewhere"]);
  });
});

describe("joining", () => {
  it("factory → wrong password → back in setup with the reason → right password → joined → restart → joined", async () => {
    const t = factoryPlug();
    t.wifi.onJoin = (c) => (c === undefined || c.password === "right-password" ? ["connected"] : ["failed", "auth"]);
    await stainfo(t, "HomeNetwork", "wrong-password");
    expect(t.wifi.accessPointOpens).toBe(2); // closed to try, opened again after the failure
    expect(state(t)).toBe("setup");
    expect(t.wifi.accessPoint!.ssid).toBe(SETUP_SSID);
    expect(t.plug.context.onboarding.lastAttempt()).toEqual({ ssid: "HomeNetwork", result: JOIN_RESULT.auth });
    expect(t.wifi.saved()).toBeUndefined(); // nothing saved from a failed attempt
    expect(t.logs.join("\n")).toContain('joining "HomeNetwork" failed: wrong password');
    await stainfo(t, "HomeNetwork", "right-password");
    expect(state(t)).toBe("joined");
    expect(t.wifi.accessPoint).toBeNull();
    expect(t.wifi.saved()).toEqual({ ssid: "HomeNetwork", keyType: 3 });
    expect(t.plug.context.onboarding.lastAttempt()).toEqual({ ssid: "HomeNetwork", result: "joined" });
    const r = t.reboot();
    expect(state(r)).toBe("joined");
    expect(r.wifi.attempts.at(-1)).toBe("saved");
    expect(r.wifi.accessPointOpens).toBe(t.wifi.accessPointOpens); // no setup network after the restart
    const all = t.logs.concat(r.logs).join("\n") + [...t.store.values].join();
    expect(all).not.toContain("wrong-password");
    expect(all).not.toContain("right-password");
  });

  it("a failed change on a provisioned plug keeps its saved network and every setting", async () => {
    const t = testPlug();
    await t.ask({ system: { set_dev_alias: { alias: "Desk lamp" } } });
    t.wifi.onJoin = () => ["failed", "not found"];
    t.unlock(); // moving a joined plug needs someone at it
    await stainfo(t, "Elsewhere", "12345678");
    expect(state(t)).toBe("setup");
    expect(t.plug.context.onboarding.lastAttempt()!.result).toBe(JOIN_RESULT.notFound);
    expect(t.wifi.saved()).toEqual({ ssid: "HomeNetwork", keyType: 3 });
    expect((await t.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo.alias).toBe("Desk lamp");
  });

  it("gives up on a join that never answers after 30 s", async () => {
    const t = factoryPlug();
    t.wifi.onJoin = () => undefined;
    await stainfo(t, "Silent", "12345678");
    t.timers.advance(JOIN_TIMEOUT_MS - 1);
    expect(state(t)).toBe("joining");
    t.timers.advance(1);
    expect(state(t)).toBe("setup");
    expect(t.plug.context.onboarding.lastAttempt()).toEqual({ ssid: "Silent", result: JOIN_RESULT.timeout });
  });

  it("reconnects with doubling backoff when the router goes away, and never opens a setup network by itself", () => {
    const t = testPlug();
    t.wifi.onJoin = () => ["failed", "not found"];
    t.wifi.emit("lost");
    expect(state(t)).toBe("offline");
    const times: number[] = [];
    const start = t.clock.mono;
    t.wifi.onJoin = () => {
      times.push(t.clock.mono - start);
      return ["failed", "not found"];
    };
    t.timers.advance(2 * 3600 * 1000);
    const gaps = times.map((x, i) => x - (i === 0 ? 0 : times[i - 1]));
    expect(gaps.slice(0, 7)).toEqual([5000, 10000, 20000, 40000, 80000, 160000, 300000]);
    expect(Math.max(...gaps)).toBe(RECONNECT_MAX_MS);
    expect(gaps[0]).toBe(RECONNECT_FIRST_MS);
    expect(t.wifi.accessPointOpens).toBe(0);
    // the router comes back
    t.wifi.onJoin = () => ["connected"];
    t.timers.advance(RECONNECT_MAX_MS);
    expect(state(t)).toBe("joined");
  });

  it("opens the setup network after the opt-in fallback time offline", () => {
    const t = testPlug({ onboarding: { fallbackMinutes: 10 } });
    t.wifi.onJoin = () => ["failed", "not found"];
    t.wifi.emit("lost");
    t.timers.advance(9 * 60 * 1000);
    expect(t.wifi.accessPointOpens).toBe(0);
    t.timers.advance(10 * 60 * 1000);
    expect(state(t)).toBe("setup");
    expect(t.wifi.accessPoint!.passphrase).not.toBe("");
  });
});

describe("button", () => {
  it("toggles the relay on a short press, bounces included; a bounce alone does nothing", () => {
    const t = testPlug();
    hold(t, 200);
    expect(t.plug.context.device.relay).toBe(true);
    hold(t, 200);
    expect(t.plug.context.device.relay).toBe(false);
    t.button(true);
    t.timers.advance(DEBOUNCE_MS - 10);
    t.button(false);
    t.timers.advance(DEBOUNCE_MS);
    expect(t.plug.context.device.relay).toBe(false);
    hold(t, 1500); // held too long for a toggle, too short for the unlock gesture (2-5 s)
    expect(t.plug.context.device.relay).toBe(false);
    hold(t, 3000); // the unlock gesture: no toggle either
    expect(t.plug.context.device.relay).toBe(false);
    expect(state(t)).toBe("joined");
  });

  it("10-second hold: factory reset with identity kept", async () => {
    const t = testPlug({ model: "HS110", forceModel: true });
    t.unlock();
    await t.ask({ system: { set_dev_alias: { alias: "Desk" }, set_device_id: { deviceId: "C".repeat(40) } } });
    hold(t, RESET_HOLD_MS);
    expect(t.restarts).toBe(1);
    expect(t.wifi.saved()).toBeUndefined();
    const r = t.reboot({});
    expect(state(r)).toBe("setup");
    const info = (await r.ask({ system: { get_sysinfo: {} } })).system.get_sysinfo;
    expect(info).toMatchObject({ alias: SETUP_SSID, deviceId: "C".repeat(40), model: "HS110(EU)" });
  });
});

describe("status LED", () => {
  /** The LED's level sampled every 50 ms for `ms`. */
  function levels(t: TestPlug, ms: number): string {
    let out = "";
    for (let at = 0; at < ms; at += 50) {
      out += t.led.at(-1) ? "#" : ".";
      t.timers.advance(50);
    }
    return out;
  }

  it("shows setup, joining, join failed and joined with patterns of their own", async () => {
    const t = factoryPlug();
    const setup = levels(t, 4000);
    expect(setup).toBe(("#".repeat(20) + ".".repeat(20)).repeat(2));
    t.wifi.onJoin = () => undefined;
    await t.ask({ netif: { set_stainfo: { ssid: "HomeNetwork", password: "12345678", key_type: 3 } } });
    t.timers.advance(RADIO_SWITCH_DELAY_MS);
    expect(state(t)).toBe("joining");
    const joining = levels(t, 800);
    expect(joining).toBe("##..".repeat(4));
    t.wifi.emit("failed", "auth");
    const failed = levels(t, 2400);
    expect(failed).toBe("###...###...###" + ".".repeat(30) + "###");
    expect(new Set([setup.slice(0, 48), joining, failed]).size).toBe(3);
    t.wifi.onJoin = () => ["connected"];
    await stainfo(t, "HomeNetwork", "12345678");
    expect(state(t)).toBe("joined");
    expect(levels(t, 3000)).toBe(".".repeat(60)); // follows the relay (off)
    await t.ask({ system: { set_relay_state: { state: 1 } } });
    expect(levels(t, 500)).toBe("#".repeat(10));
    await t.ask({ system: { set_led_off: { off: 1 } } });
    expect(levels(t, 500)).toBe(".".repeat(10));
    expect(LED_PATTERN.setup).toEqual([1000, 1000]);
  });

  it("a 2-5 s hold opens the presence lock and shows it with a double flash until a locked command uses it", async () => {
    const t = testPlug();
    hold(t, 3000);
    expect(levels(t, 2000)).toBe("##...##" + ".".repeat(33)); // 100 on, 150 off, 100 on, 1650 off
    expect((await t.ask({ system: { set_hw_id: { hwId: "C".repeat(32) } } })).system.set_hw_id).toEqual({ err_code: 0 });
    expect(levels(t, 2000)).toBe(".".repeat(40)); // the relay (off) again
  });

  it("tells a held button what letting go will do: an even blink at 2 s (unlock), steady at 5 s, flicker at 10 s", () => {
    const t = testPlug();
    t.button(true);
    t.timers.advance(UNLOCK_HOLD_MS - 100);
    expect(t.led.at(-1)).toBe(false);
    t.timers.advance(100 + DEBOUNCE_MS); // held UNLOCK_HOLD_MS since the press counted
    expect(levels(t, 2000)).toBe("#####.....".repeat(4)); // 250 ms on, 250 ms off
    t.timers.advance(SETUP_HOLD_MS - UNLOCK_HOLD_MS - 2000 - 100);
    t.timers.advance(200);
    expect(levels(t, 1000)).toBe("#".repeat(20));
    t.timers.advance(RESET_HOLD_MS - SETUP_HOLD_MS - 1100);
    const changes = t.led.length;
    t.timers.advance(1000);
    expect(t.led.length - changes).toBeGreaterThanOrEqual(18); // 50 ms on, 50 ms off
  });
});
