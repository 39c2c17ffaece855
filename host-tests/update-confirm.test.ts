// The confirmation of a new firmware (src/core/update/confirm.ts), on the fake clock: an image on
// trial is kept once it joined its network and served a request; without both within
// UPDATE_CONFIRM_MS it restarts (and the bootloader rolls back); a bootloader that does not take the
// confirmation still gets the restart; an image not on trial is left alone. The rollback's restart
// goes through the plug: a relay change still waiting for flash is written first, so the load stays
// as it was.

import { describe, expect, it } from "vitest";
import { UpdateConfirmation } from "../src/core/update/confirm.js";
import { UPDATE_CONFIRM_MS } from "../src/core/timing.js";
import { FakeClock, FakeTimers, testPlug } from "./support/fakes.js";
import { RecordingSlot } from "./support/update.js";

function setup(trial = true) {
  const clock = new FakeClock();
  const timers = new FakeTimers(clock);
  const slot = new RecordingSlot();
  slot.trial = trial;
  const restarts = { count: 0, restart() { this.count++; } };
  const logs: string[] = [];
  const confirmation = new UpdateConfirmation(slot, timers, restarts, (line) => logs.push(line));
  return { clock, timers, slot, restarts, logs, confirmation };
}

describe("a new firmware's confirmation", () => {
  it("is kept once it joined and served a request, in either order; no restart after", () => {
    for (const order of [["joined", "served"], ["served", "joined"]] as const) {
      const t = setup();
      expect(t.confirmation.start()).toBe(true);
      t.timers.advance(60_000);
      t.confirmation[order[0]]();
      t.timers.advance(60_000);
      expect(t.slot.confirmations).toBe(0); // one sign is not enough
      t.confirmation[order[1]]();
      expect(t.slot.confirmations).toBe(1);
      expect(t.slot.trial).toBe(false);
      expect(t.confirmation.waiting).toBe(false);
      t.timers.advance(UPDATE_CONFIRM_MS * 2);
      expect(t.restarts.count).toBe(0);
      expect(t.logs.at(-1)).toBe("new firmware confirmed");
      t.confirmation.served(); // later requests confirm nothing again
      expect(t.slot.confirmations).toBe(1);
    }
  });

  it("restarts (the bootloader rolls back) when it did not both join and serve in time", () => {
    for (const sign of [undefined, "joined", "served"] as const) {
      const t = setup();
      t.confirmation.start();
      if (sign !== undefined) t.confirmation[sign]();
      t.timers.advance(UPDATE_CONFIRM_MS - 1);
      expect(t.restarts.count).toBe(0);
      t.timers.advance(1);
      expect(t.restarts.count).toBe(1);
      expect(t.slot.confirmations).toBe(0);
      expect(t.logs.at(-1)).toContain("not confirmed within 5 minutes: restarting into the previous one");
      // a request after the restart was asked for confirms nothing
      t.confirmation.joined();
      t.confirmation.served();
      expect(t.slot.confirmations).toBe(0);
      t.timers.advance(UPDATE_CONFIRM_MS);
      expect(t.restarts.count).toBe(1);
    }
  });

  it("still restarts when the bootloader did not take the confirmation", () => {
    const t = setup();
    t.slot.confirmTakes = false;
    t.confirmation.start();
    t.confirmation.joined();
    t.confirmation.served();
    expect(t.slot.confirmations).toBe(1);
    expect(t.logs.at(-1)).toContain("could not be confirmed");
    t.timers.advance(UPDATE_CONFIRM_MS);
    expect(t.restarts.count).toBe(1);
  });

  it("does nothing for an image that is not on trial, and nothing once stopped", () => {
    const t = setup(false);
    expect(t.confirmation.start()).toBe(false);
    expect(t.timers.count).toBe(0);
    t.confirmation.joined();
    t.confirmation.served();
    expect(t.slot.confirmations).toBe(0);
    const s = setup();
    s.confirmation.start();
    s.confirmation.stop();
    s.timers.advance(UPDATE_CONFIRM_MS);
    expect(s.restarts.count).toBe(0);
  });

  it("restarts through the plug: a relay switched just before the rollback stays switched after it", async () => {
    const t = testPlug({ powerOn: "last" });
    const slot = new RecordingSlot();
    slot.trial = true;
    const confirmation = new UpdateConfirmation(slot, t.timers, t.plug.context.restart, () => {});
    confirmation.start();
    t.timers.advance(UPDATE_CONFIRM_MS - 1000);
    await t.ask({ system: { set_relay_state: { state: 1 } } }); // its flash write waits 3 s
    t.timers.advance(1000);
    expect(t.restarts).toBe(1);
    // the rolled-back image boots on the same flash (no flush of its own: as after a real restart)
    const after = testPlug({ powerOn: "last" }, { store: t.store, clock: t.clock, wifi: t.wifi });
    expect(after.relay).toEqual([true]);
  });
});
