// The Moddable build's mode (src/moddable/board.ts): KLAP and the owner's page do not fit an ESP8266 (docs/MEMORY.md,
// "KLAP on the chip-true heap"), so the manifest's esp platform marks it off for every board, and a
// board that asks for secure or both there runs legacy; ESP32 and the simulator run what they ask.

import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";

vi.mock("mc/config", () => ({ default: {} }));
const { ownerPageOn, plugMode } = await import("../src/moddable/board.js");

const manifest = JSON.parse(readFileSync(new URL("../manifest.json", import.meta.url), "utf8"));

describe("the Moddable build's mode", () => {
  it("is what the board asks, legacy when it asks nothing or something unknown", () => {
    expect(plugMode("secure")).toBe("secure");
    expect(plugMode("both", true)).toBe("both");
    expect(plugMode(undefined)).toBe("legacy");
    expect(plugMode("strict")).toBe("legacy");
  });

  it("is legacy where the platform has no KLAP, whatever the board asks", () => {
    expect(plugMode("secure", false)).toBe("legacy");
    expect(plugMode("both", "false")).toBe("legacy");
  });

  it("the ESP8266 platform has no KLAP; ESP32 and the simulator do", () => {
    expect(manifest.platforms.esp.config.plug.klap).toBe(false);
    for (const platform of ["esp32", "lin", "sim"]) expect(manifest.platforms[platform].config?.plug?.klap).toBeUndefined();
    expect(manifest.config.plug.klap).toBeUndefined();
  });

  it("serves the owner's page as the board says, else unless secure; the ESP8266 platform has none", () => {
    expect(ownerPageOn(undefined, "legacy")).toBe(true);
    expect(ownerPageOn(undefined, "both")).toBe(true);
    expect(ownerPageOn(undefined, "secure")).toBe(false);
    expect(ownerPageOn("true", "secure")).toBe(true);
    expect(ownerPageOn(false, "legacy")).toBe(false);
    // the owner's page overflows the ESP8266's stack and heap (docs/MEMORY.md): off for every board there
    expect(ownerPageOn(manifest.platforms.esp.config.plug.ownerPage, "legacy")).toBe(false);
    for (const platform of ["esp32", "lin", "sim"]) expect(manifest.platforms[platform].config?.plug?.ownerPage).toBeUndefined();
  });
});
