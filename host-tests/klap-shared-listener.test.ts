// KLAP on the setup page's own listener, as the Moddable firmware wires it (src/moddable/firmware.ts:
// one listener on the page's port, 80 on a device, 8080 in the simulator): python-kasa connects to
// the port discovery advertises, so that must be the page's; and the two never listen at once.

import { afterEach, describe, expect, it, vi } from "vitest";
import { createPlug, type PlugOptions, type PlugPorts } from "../src/core/plug.js";
import { KlapServer } from "../src/core/klap/klap-server.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { FakeDatagrams, FakeListener, FakeWifi, SETUP_CLIENT, testPlug } from "./support/fakes.js";
import { SETUP_IDLE_MS } from "../src/core/timing.js";

afterEach(() => vi.restoreAllMocks());

/** python-kasa's header-only probe (Discover.DISCOVERY_QUERY_2). */
const QUERY_2 = Uint8Array.from(Buffer.from("020000010000000000000000463cb5d3", "hex"));

/** A plug in `mode` whose KLAP and setup page share one listener; `fresh`: nothing saved, the setup network up from the start. */
function sharing(options: PlugOptions, fresh: boolean) {
  const t = testPlug();
  const wifi = new FakeWifi();
  if (fresh) wifi.forget();
  const page = new FakeListener(SETUP_CLIENT);
  const discovery = new FakeDatagrams();
  const ports: PlugPorts = {
    relay: { set() {} }, led: { set() {} }, button: { listen() {} }, clock: t.clock, timers: t.timers, store: t.store, wifi,
    tcp: new FakeListener(), udp: new FakeDatagrams(), http: page, dns: new FakeDatagrams(), random: (n: number) => new Uint8Array(n).fill(7),
    restart: { restart() {} }, log() {}, crypto: nodeCrypto, klap: page, discovery,
  };
  const plug = createPlug(ports, options);
  plug.start();
  return { plug, page, discovery, timers: t.timers };
}

function advertisedPort(discovery: FakeDatagrams): number {
  discovery.receive(QUERY_2);
  const json = JSON.parse(new TextDecoder().decode(discovery.sent.pop()!.bytes.subarray(16)));
  return json.result.mgt_encrypt_schm.http_port;
}

describe("KLAP on the setup page's listener (the Moddable firmware)", () => {
  for (const mode of ["secure", "both"] as const) {
    it(`${mode}: discovery advertises the page's port (the simulator's 8080), and KLAP waits while the page is up`, () => {
      const order: string[] = [];
      vi.spyOn(KlapServer.prototype, "start").mockImplementation(() => void order.push("klap start"));
      vi.spyOn(KlapServer.prototype, "stop").mockImplementation(() => void order.push("klap stop"));
      const t = sharing({ mode, httpPort: 8080 }, true);
      expect(t.plug.context.onboarding.state).toBe("setup");
      expect(t.page.listening).toBe(true);
      expect(order).toEqual([]); // the page has the listener: KLAP does not take it over
      expect(advertisedPort(t.discovery)).toBe(8080);
      t.timers.advance(SETUP_IDLE_MS + 60_000); // no client came: the page closes
      expect(t.plug.context.onboarding.state).not.toBe("setup");
      expect(order).toEqual(["klap start"]);
      expect(advertisedPort(t.discovery)).toBe(8080);
    });
  }

  it("a device's page on port 80 advertises 80; a klapPort given wins", () => {
    expect(advertisedPort(sharing({ mode: "secure" }, false).discovery)).toBe(80);
    expect(advertisedPort(sharing({ mode: "secure", httpPort: 8080, klapPort: 8081 }, false).discovery)).toBe(8081);
  });
});
