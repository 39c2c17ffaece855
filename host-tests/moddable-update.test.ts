// Signed updates on an ESP32 (src/moddable/update-esp32.ts) without the SDK or a chip: embedded:update,
// embedded:storage/flash and the project's esp32-state native are stand-ins over a simulated ESP-IDF
// OTA (support/sdk-update.ts), the SDK's crypt and ECDSA too (support/sdk-crypt.ts, sdk-ecdsa.ts).
// The image goes through the core's receiver, as the plug will take it.

import { beforeEach, describe, expect, it, vi } from "vitest";
import { APP_MAGIC, idf } from "./support/sdk-update.js";
import { signedImage, testKey } from "./support/update.js";

vi.mock("crypt", () => import("./support/sdk-crypt.js"));
vi.mock("curve", () => import("./support/sdk-ecdsa.js").then((m) => ({ default: m.Curve })));
vi.mock("ecdsa", () => import("./support/sdk-ecdsa.js").then((m) => ({ default: m.ECDSA })));
vi.mock("ecp", () => import("./support/sdk-ecdsa.js").then((m) => ({ default: m.ECPoint })));
vi.mock("embedded:storage/flash", () => import("./support/sdk-update.js").then((m) => ({ default: m.FlashStorage })));
vi.mock("embedded:update", () => import("./support/sdk-update.js").then((m) => ({ default: m.Update })));
vi.mock("../src/moddable/esp32-state.js", () => import("./support/sdk-update.js"));

const { createUpdates } = await import("../src/moddable/update-esp32.js");
const { ModdableCrypto } = await import("../src/moddable/crypto.js");
const { UpdateReceiver } = await import("../src/core/update/image.js");

const owner = testKey();
/** An app image as ESP-IDF wants it: the magic first. */
const app = (length: number) => Uint8Array.from({ length }, (_, i) => (i === 0 ? APP_MAGIC : (i * 31) & 0xff));

function updates(log: string[] = []) {
  const made = createUpdates((line) => log.push(line));
  if (made === undefined) throw new Error(`no updates: ${log.join("; ")}`);
  return made;
}

/** The signed image through the core's receiver into the ESP32's slot, in chunks of `chunk` bytes. */
function send(signed: Uint8Array, chunk = 512, log: string[] = []) {
  const { port, p256 } = updates(log);
  const receiver = new UpdateReceiver(port, new ModdableCrypto(p256), owner.raw);
  for (let at = 0; at < signed.length && receiver.status === "receiving"; at += chunk) receiver.write(signed.subarray(at, at + chunk));
  return receiver.end();
}

const joined = (parts: Uint8Array[] | undefined) => Buffer.concat(parts ?? []);

describe("signed updates on an ESP32, on stand-ins with the SDK's and ESP-IDF's rules", () => {
  beforeEach(() => idf.reset());

  it("offers the other slot's size as flash reports it, from either slot", () => {
    expect(updates().port.slotBytes).toBe(0x1fe000);
    idf.running = 1;
    expect(updates().port.slotBytes).toBe(0x1f0000);
  });

  it("has no updates, and says why, when the build made no second slot", () => {
    idf.slots = [0x3f0000];
    const log: string[] = [];
    expect(createUpdates((line) => log.push(line))).toBeUndefined();
    expect(log.join("\n")).toMatch(/no second app slot.*autosplit/);
  });

  it("writes a signed image into the other slot and sets it to boot next", () => {
    const image = app(5000);
    expect(send(signedImage(image, owner.privateKey))).toBe("accepted");
    expect(idf.bootNext).toBe(1);
    expect(joined(idf.written.get(1)).equals(Buffer.from(image))).toBe(true);
    expect(idf.aborts).toBe(0);
  });

  it("aborts the slot for a tampered image or another key: nothing new boots", () => {
    const signed = signedImage(app(3000), owner.privateKey);
    signed[1000] ^= 1;
    expect(send(signed)).toBe("signature");
    expect(send(signedImage(app(3000), testKey().privateKey))).toBe("signature");
    expect([idf.bootNext, idf.aborts]).toEqual([null, 2]);
  });

  it("refuses an image ESP-IDF will not take (not an app, or failing its own check): nothing new boots", () => {
    const log: string[] = [];
    const notAnApp = app(2000);
    notAnApp[0] = 0;
    expect(send(signedImage(notAnApp, owner.privateKey), 512, log)).toBe("slot");
    idf.imageValid = false;
    expect(send(signedImage(app(2000), owner.privateKey), 512, log)).toBe("slot");
    // the first aborted at its first write; the second ended in esp_ota_end, which let it go itself
    expect([idf.bootNext, idf.aborts]).toEqual([null, 1]);
    expect(log.join("\n")).toMatch(/writing the other slot failed[\s\S]*not accepted by ESP-IDF/);
  });

  it("takes no update while the running image is itself on trial", () => {
    idf.pendingVerify = true;
    expect(send(signedImage(app(100), owner.privateKey))).toBe("slot");
    expect(idf.bootNext).toBe(null);
  });

  it("refuses an image larger than the other slot before writing a byte", () => {
    const { port } = updates();
    expect(port.begin(port.slotBytes + 1)).toBe(false);
    expect(port.begin(0)).toBe(false);
    expect(port.begin(port.slotBytes)).toBe(true);
    port.abort();
    expect(idf.aborts).toBe(1);
  });

  it("reports the running image's trial, and confirms it through ESP-IDF's rollback (saying so when ESP-IDF refuses)", () => {
    const log: string[] = [];
    const { port } = updates(log);
    expect(port.pendingConfirmation()).toBe(false);
    idf.pendingVerify = true;
    expect(port.pendingConfirmation()).toBe(true);
    idf.markValidWorks = false;
    port.confirm();
    expect(port.pendingConfirmation()).toBe(true);
    expect(log.join("\n")).toMatch(/did not mark the running image valid/);
    idf.markValidWorks = true;
    port.confirm();
    expect(port.pendingConfirmation()).toBe(false);
  });
});
