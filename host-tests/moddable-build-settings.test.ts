// What a Moddable build is told besides its manifest: package.json's version for every build, and for
// an ESP32 the owner's update key from keys/update-public.json (scripts/build-settings.mjs, passed to
// mcconfig as name=value), and how the firmware reads them back (src/moddable/board.ts).

import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildSettings } from "../scripts/build-settings.mjs";
import { rawKey } from "./support/update.js";

const config: Record<string, unknown> = {};
vi.mock("mc/config", () => ({ default: config }));
const { buildSetting, firmwareVersion, updateKey } = await import("../src/moddable/board.js");

const dirs: string[] = [];
function project(version: string, key?: string): string {
  const dir = mkdtempSync(join(tmpdir(), "plug-build-"));
  dirs.push(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ version }));
  if (key !== undefined) {
    mkdirSync(join(dir, "keys"));
    writeFileSync(join(dir, "keys", "update-public.json"), key);
  }
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const name of Object.keys(config)) delete config[name];
});

const hexKey = () => Buffer.from(rawKey(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey)).toString("hex");

describe("a Moddable build's version and update key", () => {
  it("gives every build package.json's version, and an ESP32 build the owner's key when there is one", () => {
    const key = hexKey();
    const dir = project("1.4.0", JSON.stringify({ curve: "P-256", key: key.toUpperCase() }));
    expect(buildSettings("esp32", dir).args).toEqual(["firmwareVersion=1.4.0", `updateKey=${key}`]);
    expect(buildSettings("esp", dir).args).toEqual(["firmwareVersion=1.4.0"]);
    expect(buildSettings("lin", dir).args).toEqual(["firmwareVersion=1.4.0"]);
  });

  it("builds an ESP32 without updates when there is no key, and says so", () => {
    const made = buildSettings("esp32", project("1.4.0"));
    expect(made.args).toEqual(["firmwareVersion=1.4.0"]);
    expect(made.notes.join("\n")).toMatch(/no keys\/update-public\.json: this build takes no updates.*npm run keygen/);
  });

  it("stops on a key file that is not a P-256 public key", () => {
    const offCurve = `04${"11".repeat(64)}`;
    for (const text of ["{", JSON.stringify({ curve: "P-384", key: hexKey() }), JSON.stringify({ curve: "P-256", key: "04abcd" }), JSON.stringify({ curve: "P-256", key: offCurve })]) {
      expect(() => buildSettings("esp32", project("1.0.0", text))).toThrow(/update-public\.json/);
    }
  });

  it("reads the key and version back in the firmware: from the build's arguments, or the board's config.plug", () => {
    const key = hexKey();
    config.updateKey = key;
    config.firmwareVersion = "1.4.0";
    expect(Buffer.from(updateKey(buildSetting("updateKey"))!).toString("hex")).toBe(key);
    expect(firmwareVersion(buildSetting("firmwareVersion"))).toBe("1.4.0");
    config.plug = { firmwareVersion: "board-1" };
    expect(firmwareVersion(buildSetting("firmwareVersion"))).toBe("board-1");
  });

  it("takes no key that is not 65 bytes 04 x y in hex, and no version an update header could not carry", () => {
    const key = hexKey();
    for (const bad of [undefined, 42, key.slice(2), `${key}00`, `03${key.slice(2)}`, `${key.slice(0, 128)}0g`, `${key.slice(0, 128)}+1`]) expect(updateKey(bad)).toBeUndefined();
    for (const bad of [undefined, "", "x".repeat(33), "1.0\n", "1.0\u00e9"]) expect(firmwareVersion(bad)).toBeUndefined();
    expect(firmwareVersion("x".repeat(32))).toBe("x".repeat(32));
  });
});
