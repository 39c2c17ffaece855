// Updates in the assembled plug (src/core/update/updater.ts, wired by plug.ts), on fake ports: what
// the owner is told when no update can be taken (no slot, no key, busy, on trial, too large), an
// accepted image restarting the plug into it a moment after its answer, a refused one leaving the
// plug as it was, and the relay across an update's restart: back as it was whatever the power-on
// policy (a plain restart still follows the policy). A new image on trial is confirmed once it
// joined and served a request through the plug's own dispatcher, or rolled back by a restart.

import { describe, expect, it } from "vitest";
import { UPDATE_UNAVAILABLE } from "../src/core/update/updater.js";
import { UpdateReceiver } from "../src/core/update/image.js";
import { KEY as SETTING } from "../src/core/storage/settings.js";
import { UPDATE_CONFIRM_MS, UPDATE_RESTART_DELAY_MS } from "../src/core/timing.js";
import { nodeCrypto } from "../src/host/crypto.js";
import type { PlugOptions } from "../src/core/plug.js";
import { testPlug } from "./support/fakes.js";
import { RecordingSlot, signedImage, testKey } from "./support/update.js";

const KEY = testKey();
const IMAGE = signedImage(new Uint8Array(300).fill(7), KEY.privateKey, "2.0.0");

function plugWith(options: PlugOptions = {}, slot: RecordingSlot | null = new RecordingSlot()) {
  const t = testPlug({ updateKey: KEY.raw, firmwareVersion: "1.0.0", ...options }, { crypto: nodeCrypto, update: slot ?? undefined });
  return { t, slot, updater: t.plug.context.updater! };
}

/** Sends an image in 50-byte parts, as an upload would arrive. */
function send(r: UpdateReceiver, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += 50) r.write(bytes.subarray(at, at + 50));
}

describe("updates in the plug", () => {
  it("says why no update can be taken: no slot, no key, on trial, busy, too large", () => {
    expect(plugWith({}, null).updater.receive(IMAGE.length)).toBe(UPDATE_UNAVAILABLE.platform);
    expect(plugWith({ updateKey: undefined }).updater.receive(IMAGE.length)).toBe(UPDATE_UNAVAILABLE.key);
    const trial = new RecordingSlot();
    trial.trial = true;
    expect(plugWith({}, trial).updater.receive(IMAGE.length)).toBe(UPDATE_UNAVAILABLE.trial);
    const { updater, slot } = plugWith();
    expect(updater.state()).toBe("ready");
    expect(updater.version).toBe("1.0.0");
    expect(updater.receive(slot!.slotBytes + 109)).toBe("an image larger than the update slot");
    expect(updater.receive(10)).toBe("an image larger than the update slot");
    const r = updater.receive(IMAGE.length);
    expect(r).toBeInstanceOf(UpdateReceiver);
    expect(updater.state()).toBe("receiving");
    expect(updater.receive(IMAGE.length)).toBe(UPDATE_UNAVAILABLE.busy);
    updater.cancel(r as UpdateReceiver);
    expect(updater.state()).toBe("ready");
    expect(updater.last).toBe("update refused: the update was cancelled");
    expect(slot!.begun).toEqual([]); // nothing reached the slot before the header was all there
  });

  it("restarts into an accepted image a moment after its answer, keeping the relay as it was", () => {
    const { t, slot, updater } = plugWith({ powerOn: "off" });
    t.plug.context.device.setRelay(true);
    const r = updater.receive(IMAGE.length) as UpdateReceiver;
    send(r, IMAGE);
    expect(updater.finish(r)).toBe("accepted");
    expect(slot!.completed).toBe(1);
    expect(updater.state()).toBe("restarting");
    expect(updater.receive(IMAGE.length)).toBe(UPDATE_UNAVAILABLE.restarting);
    expect(updater.last).toBe("firmware 2.0.0 accepted");
    t.timers.advance(UPDATE_RESTART_DELAY_MS - 1);
    expect(t.restarts).toBe(0);
    t.timers.advance(1);
    expect(t.restarts).toBe(1);
    // the next boot: the relay comes back on although the policy says off, and only this once
    const next = t.reboot();
    expect(next.relay).toEqual([true]);
    expect(next.plug.context.device.kept).toBe(true);
    expect(next.plug.context.settings.text(SETTING.keepRelay, "none")).toBe("none");
    const after = next.reboot();
    expect(after.relay).toEqual([false]); // a plain restart follows the policy again
  });

  it("a refused image changes nothing: no restart, the slot dropped, the reason kept for the owner", () => {
    const { t, slot, updater } = plugWith();
    const tampered = IMAGE.slice();
    tampered[100] ^= 1;
    const r = updater.receive(tampered.length) as UpdateReceiver;
    send(r, tampered);
    expect(updater.finish(r)).toBe("signature");
    expect(slot!.aborted).toBe(1);
    expect(slot!.completed).toBe(0);
    expect(updater.last).toBe("update refused: a signature that does not verify with the owner's key");
    t.timers.advance(UPDATE_CONFIRM_MS * 2);
    expect(t.restarts).toBe(0);
    expect(updater.state()).toBe("ready");
  });

  it("a new image on trial is confirmed once it joined and a request was served through the plug", async () => {
    const slot = new RecordingSlot();
    slot.trial = true;
    const { t, updater } = plugWith({}, slot);
    expect(updater.state()).toBe("trial");
    expect(slot.confirmations).toBe(0); // joined, but nothing served yet
    await t.ask({ system: { get_sysinfo: {} } });
    expect(slot.confirmations).toBe(1);
    expect(updater.state()).toBe("ready");
    t.timers.advance(UPDATE_CONFIRM_MS * 2);
    expect(t.restarts).toBe(0);
  });

  it("an image on trial that serves nobody is restarted (rolled back), the relay kept whatever the policy", () => {
    const slot = new RecordingSlot();
    slot.trial = true;
    const { t } = plugWith({ powerOn: "off" }, slot);
    t.plug.context.device.setRelay(true);
    t.timers.advance(UPDATE_CONFIRM_MS);
    expect(t.restarts).toBe(1);
    expect(slot.confirmations).toBe(0);
    expect(t.logs.some((l) => l.includes("not confirmed within 5 minutes"))).toBe(true);
    slot.trial = false; // the bootloader went back to the previous image
    expect(t.reboot().relay).toEqual([true]);
  });
});
