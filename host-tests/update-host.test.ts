// The host's simulation of an ESP32's two firmware slots and its bootloader's rollback
// (src/host/update.ts), driven by the core's receiver and confirmation as a plug would drive them:
// update -> restart -> the new version runs on trial -> confirmed -> it stays; update -> restart ->
// never confirmed -> restart -> the previous version is back; an image that cannot boot goes back
// at once; a refused image never boots; no update while the running image is on trial. A restart is
// a new HostUpdate on the same state directory, booted (as the process would be).

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UpdateConfirmation } from "../src/core/update/confirm.js";
import { UpdateReceiver } from "../src/core/update/image.js";
import { UPDATE_CONFIRM_MS } from "../src/core/timing.js";
import { nodeCrypto } from "../src/host/crypto.js";
import { FIRMWARE_STATE_FILE, HostUpdate, parseHostImage } from "../src/host/update.js";
import { FakeClock, FakeTimers } from "./support/fakes.js";
import { signedImage, testKey } from "./support/update.js";

const KEY = testKey();
const FACTORY = "0.1.0";
let dir: string;
let logs: string[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "plug-slots-"));
  logs = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function image(version: string, confirms?: boolean): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(confirms === undefined ? { version } : { version, confirms })));
}

/** A start of the plug: the bootloader picks the image. */
function restart(): HostUpdate {
  const slots = new HostUpdate(dir, FACTORY, (line) => logs.push(line), 4096);
  slots.boot();
  return slots;
}

/** A signed image sent to the running plug in 10-byte chunks. */
function update(slots: HostUpdate, bytes: Uint8Array) {
  const r = new UpdateReceiver(slots, nodeCrypto, KEY.raw);
  for (let at = 0; at < bytes.length; at += 10) r.write(bytes.subarray(at, at + 10));
  return r.end();
}

/** The running image's first minutes: it joins and serves a request (unless told not to), then the confirmation's time runs out. */
function run(slots: HostUpdate, works = true): { restarts: number } {
  const clock = new FakeClock();
  const timers = new FakeTimers(clock);
  const restarts = { restarts: 0, restart() { this.restarts++; } };
  const confirmation = new UpdateConfirmation(slots, timers, restarts, (line) => logs.push(line));
  confirmation.start();
  if (works) {
    timers.advance(20_000);
    confirmation.joined();
    confirmation.served();
  }
  timers.advance(UPDATE_CONFIRM_MS);
  return restarts;
}

describe("the host's firmware slots", () => {
  it("update, restart, the new version runs on trial, is confirmed and stays across restarts", () => {
    let slots = restart();
    expect(slots.running).toEqual({ slot: "factory", version: FACTORY, confirms: true });
    expect(slots.pendingConfirmation()).toBe(false);
    expect(update(slots, signedImage(image("2.0.0"), KEY.privateKey, "2.0.0"))).toBe("accepted");
    expect(slots.running.version).toBe(FACTORY); // until the restart
    slots = restart();
    expect(slots.running).toMatchObject({ slot: "a", version: "2.0.0" });
    expect(slots.pendingConfirmation()).toBe(true);
    expect(run(slots).restarts).toBe(0);
    expect(slots.pendingConfirmation()).toBe(false);
    slots = restart();
    expect(slots.running).toMatchObject({ slot: "a", version: "2.0.0" });
    expect(slots.pendingConfirmation()).toBe(false);
    // the next update goes into the other slot
    expect(update(slots, signedImage(image("3.0.0"), KEY.privateKey, "3.0.0"))).toBe("accepted");
    slots = restart();
    expect(slots.running).toMatchObject({ slot: "b", version: "3.0.0" });
    expect(statSync(join(dir, "firmware-b.bin")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, FIRMWARE_STATE_FILE)).mode & 0o777).toBe(0o600);
  });

  it("update, restart, never confirmed, restart: the previous version is back, and stays", () => {
    let slots = restart();
    update(slots, signedImage(image("2.0.0"), KEY.privateKey, "2.0.0"));
    slots = restart();
    run(slots);
    update(slots, signedImage(image("3.0.0"), KEY.privateKey, "3.0.0"));
    slots = restart();
    expect(slots.running.version).toBe("3.0.0");
    expect(run(slots, false).restarts).toBe(1); // it never joined: the time ran out
    slots = restart();
    expect(slots.running).toMatchObject({ slot: "a", version: "2.0.0" });
    expect(slots.pendingConfirmation()).toBe(false);
    expect(logs).toContain("firmware 3.0.0 was not confirmed: rolled back to 2.0.0");
    slots = restart();
    expect(slots.running.version).toBe("2.0.0");
  });

  it("an image that cannot confirm itself is rolled back, even though it joined and served", () => {
    let slots = restart();
    update(slots, signedImage(image("2.0.0-broken", false), KEY.privateKey, "2.0.0-broken"));
    slots = restart();
    expect(slots.running.version).toBe("2.0.0-broken");
    expect(run(slots).restarts).toBe(1);
    slots = restart();
    expect(slots.running).toEqual({ slot: "factory", version: FACTORY, confirms: true });
    // and a restart that comes before the time is up (a crash) rolls back the same way
    update(slots, signedImage(image("2.1.0"), KEY.privateKey, "2.1.0"));
    slots = restart();
    expect(slots.running.version).toBe("2.1.0");
    slots = restart();
    expect(slots.running.version).toBe(FACTORY);
  });

  it("a signed slot that does not hold a bootable image goes back at once", () => {
    let slots = restart();
    expect(update(slots, signedImage(new Uint8Array([0xe9, 1, 2, 3]), KEY.privateKey, "9.9.9"))).toBe("accepted");
    slots = restart();
    expect(slots.running.version).toBe(FACTORY);
    expect(slots.pendingConfirmation()).toBe(false);
    expect(logs.some((l) => l.includes("does not hold a bootable image"))).toBe(true);
  });

  it("a refused image is never booted, and leaves the running one's data alone", () => {
    let slots = restart();
    update(slots, signedImage(image("2.0.0"), KEY.privateKey, "2.0.0"));
    slots = restart();
    run(slots);
    const data = readFileSync(join(dir, FIRMWARE_STATE_FILE), "utf8");
    const good = signedImage(image("6.6.6"), KEY.privateKey, "6.6.6");
    const tampered = good.slice();
    tampered[50] ^= 1;
    expect(update(slots, tampered)).toBe("signature");
    expect(update(slots, signedImage(image("6.6.6"), testKey().privateKey, "6.6.6"))).toBe("signature");
    expect(update(slots, good.subarray(0, good.length - 1))).toBe("truncated");
    expect(update(slots, signedImage(new Uint8Array(5000).fill(32), KEY.privateKey))).toBe("size");
    expect(readFileSync(join(dir, FIRMWARE_STATE_FILE), "utf8")).toBe(data);
    expect(existsSync(join(dir, "firmware-b.bin"))).toBe(false); // the partial slot was dropped
    slots = restart();
    expect(slots.running).toMatchObject({ slot: "a", version: "2.0.0" });
    expect(slots.pendingConfirmation()).toBe(false);
  });

  it("refuses an update while the running image is on trial (a rollback needs the other slot)", () => {
    let slots = restart();
    update(slots, signedImage(image("2.0.0"), KEY.privateKey, "2.0.0"));
    slots = restart();
    expect(update(slots, signedImage(image("3.0.0"), KEY.privateKey, "3.0.0"))).toBe("slot");
    slots = restart(); // not confirmed: back to the factory image, which the update did not touch
    expect(slots.running.version).toBe(FACTORY);
  });

  it("a second update before the restart replaces the first", () => {
    let slots = restart();
    update(slots, signedImage(image("2.0.0"), KEY.privateKey, "2.0.0"));
    update(slots, signedImage(image("2.0.1"), KEY.privateKey, "2.0.1"));
    slots = restart();
    expect(slots.running.version).toBe("2.0.1");
  });

  it("unreadable bootloader data boots the factory image; host images are checked", () => {
    writeFileSync(join(dir, FIRMWARE_STATE_FILE), "{not json");
    expect(restart().running.version).toBe(FACTORY);
    expect(parseHostImage(image("1.0"))).toEqual({ version: "1.0", confirms: true });
    expect(parseHostImage(image("1.0", false))).toEqual({ version: "1.0", confirms: false });
    for (const bad of ["[]", "null", '{"version": 1}', '{"version": ""}', '{"version": "x", "confirms": "no"}', `{"version": "${"x".repeat(33)}"}`, "\xff"]) {
      expect(parseHostImage(new Uint8Array(Buffer.from(bad, "latin1")))).toBeUndefined();
    }
  });
});
