// The Moddable saved Wi-Fi network (src/moddable/saved-network.ts) under power cuts: a store that
// behaves as Preference on an ESP8266 (a set zeroes the key's old record, then appends the new one
// byte by byte; a delete zeroes a record) loses power at every step of every kind of save and of
// forget. After each cut the network read at the next boot must be the old one or the new one, with
// its own password: never a mix, never garbage, never nothing where a network was saved.

import { describe, expect, it } from "vitest";
import { SavedNetworkStore, WIFI_DOMAIN, type PreferenceRecords } from "../src/moddable/saved-network.js";
import type { WifiCredentials } from "../src/ports/ports.js";

type Tear = "absent" | "prefix" | "noise";
const TEARS: readonly Tear[] = ["absent", "prefix", "noise"];

class CutPrefs implements PreferenceRecords {
  readonly records = new Map<string, ArrayBuffer | number>();
  steps = 0;
  private cutAt = Infinity;
  private tear: Tear = "absent";
  dead = false;

  plan(cutAt: number, tear: Tear): this {
    this.cutAt = cutAt;
    this.tear = tear;
    this.steps = 0;
    return this;
  }

  clone(): CutPrefs {
    const c = new CutPrefs();
    for (const [k, v] of this.records) c.records.set(k, v);
    return c;
  }

  /** Whether the next step happens; false once the power went. */
  private step(): boolean {
    if (this.dead) return false;
    if (this.steps++ === this.cutAt) {
      this.dead = true;
      return false;
    }
    return true;
  }

  get(domain: string, key: string): unknown {
    const v = this.records.get(`${domain}/${key}`);
    return v instanceof ArrayBuffer ? v.slice(0) : v;
  }

  set(domain: string, key: string, value: ArrayBuffer | number): void {
    const k = `${domain}/${key}`;
    if (this.records.has(k)) {
      if (!this.step()) return;
      this.records.delete(k);
    }
    if (typeof value === "number") {
      if (this.step()) this.records.set(k, value);
      return;
    }
    const bytes = new Uint8Array(value);
    for (let i = 0; i < bytes.length; i++) {
      if (!this.step()) {
        // the append was cut after i bytes
        if (this.tear === "prefix" && i > 0) this.records.set(k, bytes.slice(0, i).buffer);
        if (this.tear === "noise") this.records.set(k, bytes.map((b, j) => (j < i ? b : (b * 31 + j * 7 + 1) & 255)).buffer);
        return;
      }
    }
    this.records.set(k, bytes.slice().buffer);
  }

  delete(domain: string, key: string): void {
    const k = `${domain}/${key}`;
    if (!this.records.has(k)) return;
    if (this.step()) this.records.delete(k);
  }
}

const HOME: WifiCredentials = { ssid: "HomeNetwork", keyType: 3, password: "correct horse battery staple" };
const LONG: WifiCredentials = { ssid: "ThirtyTwoBytesOfNetworkName-2.4G", keyType: 3, password: "p".repeat(30) + "ä".repeat(16) + "q" };
const HEXKEY: WifiCredentials = { ssid: "Büro", keyType: 2, password: "0123456789abcdef".repeat(4) };
const OPEN: WifiCredentials = { ssid: "CafeGuest", keyType: 0, password: "" };
/** Same name, new password: a mix of old and new would pass a check of the name alone. */
const HOME_NEW: WifiCredentials = { ssid: "HomeNetwork", keyType: 3, password: "a new password, longer than the old" };

function savedWith(...networks: WifiCredentials[]): CutPrefs {
  const prefs = new CutPrefs();
  const store = new SavedNetworkStore(prefs);
  for (const n of networks) expect(store.save(n)).toBe(true);
  return prefs;
}

/** Cuts power at every step (and with every tear) of `operation` on a copy of `before`; checks what the next boot reads. */
function everyCut(before: CutPrefs, operation: (s: SavedNetworkStore) => void, old: WifiCredentials | undefined, next: WifiCredentials | undefined): number {
  const probe = before.clone().plan(Infinity, "absent");
  operation(new SavedNetworkStore(probe));
  const steps = probe.steps;
  expect(new SavedNetworkStore(probe).load()).toEqual(next);
  let cuts = 0;
  for (let at = 0; at < steps; at++) {
    for (const tear of TEARS) {
      const prefs = before.clone().plan(at, tear);
      operation(new SavedNetworkStore(prefs));
      const read = new SavedNetworkStore(prefs).load();
      if (!(equal(read, old) || equal(read, next))) throw new Error(`cut at step ${at} of ${steps} (${tear}): read ${JSON.stringify(read)}`);
      if (old !== undefined && next !== undefined) expect(read).toBeDefined();
      cuts++;
    }
  }
  return cuts;
}

function equal(a: WifiCredentials | undefined, b: WifiCredentials | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

describe("saved Wi-Fi network on Moddable preference", () => {
  it("round-trips every kind of network, within the 63-byte record limit", () => {
    for (const n of [HOME, LONG, HEXKEY, OPEN]) {
      const prefs = savedWith(n);
      expect(new SavedNetworkStore(prefs).load()).toEqual(n);
      for (const v of prefs.records.values()) if (v instanceof ArrayBuffer) expect(v.byteLength).toBeLessThanOrEqual(63);
    }
    // the 64-hex-digit key is kept as its 32 bytes
    expect([...savedWith(HEXKEY).records.entries()].find(([k]) => k === `${WIFI_DOMAIN}/p0`)?.[1]).toHaveProperty("byteLength", 32);
  });

  it("refuses what cannot be saved, keeping the old network", () => {
    const prefs = savedWith(HOME);
    const store = new SavedNetworkStore(prefs);
    expect(store.save({ ssid: "", keyType: 3, password: "x".repeat(12) })).toBe(false);
    expect(store.save({ ssid: "x".repeat(33), keyType: 3, password: "x".repeat(12) })).toBe(false);
    expect(store.save({ ssid: "Home", keyType: 3, password: "é".repeat(32) })).toBe(false); // 64 bytes
    expect(store.load()).toEqual(HOME);
  });

  it("a power cut at any step of a first save leaves nothing or the new network", () => {
    expect(everyCut(new CutPrefs(), (s) => s.save(LONG), undefined, LONG)).toBeGreaterThan(100);
  });

  it("a power cut at any step of a change of network, or of password only, leaves the old one or the new one whole", () => {
    let cuts = 0;
    cuts += everyCut(savedWith(HOME), (s) => s.save(HOME_NEW), HOME, HOME_NEW);
    cuts += everyCut(savedWith(HOME), (s) => s.save(LONG), HOME, LONG);
    cuts += everyCut(savedWith(LONG, HOME), (s) => s.save(HEXKEY), HOME, HEXKEY);
    cuts += everyCut(savedWith(HEXKEY), (s) => s.save(OPEN), HEXKEY, OPEN);
    cuts += everyCut(savedWith(OPEN), (s) => s.save(HOME), OPEN, HOME);
    // many saves in a row: the generation wraps
    const many = savedWith(...Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? HOME : HOME_NEW)));
    expect(new SavedNetworkStore(many).load()).toEqual(HOME_NEW);
    cuts += everyCut(many, (s) => s.save(LONG), HOME_NEW, LONG);
    expect(cuts).toBeGreaterThan(500);
  });

  it("after a save the old password is no longer on flash", () => {
    const prefs = savedWith(HOME, LONG);
    const bytes = [...prefs.records.values()].filter((v): v is ArrayBuffer => v instanceof ArrayBuffer).map((b) => new TextDecoder().decode(b)).join("|");
    expect(bytes).not.toContain(HOME.password);
  });

  it("a power cut while forgetting leaves the network or nothing", () => {
    everyCut(savedWith(HOME, LONG), (s) => s.forget(), LONG, undefined);
  });

  it("a cut during a save that left a damaged bank does not stop the next save", () => {
    const prefs = savedWith(HOME).plan(3, "noise");
    new SavedNetworkStore(prefs).save(LONG);
    prefs.dead = false;
    prefs.plan(Infinity, "absent");
    const store = new SavedNetworkStore(prefs);
    expect(store.load()).toEqual(HOME);
    expect(store.save(HEXKEY)).toBe(true);
    expect(new SavedNetworkStore(prefs).load()).toEqual(HEXKEY);
  });

  it("reads the records of the firmware before banks, and a cut while replacing them leaves old or new", () => {
    const legacy = new CutPrefs();
    legacy.records.set(`${WIFI_DOMAIN}/ssid`, new TextEncoder().encode("OldHome").buffer);
    legacy.records.set(`${WIFI_DOMAIN}/key`, 3);
    legacy.records.set(`${WIFI_DOMAIN}/psk`, new TextEncoder().encode("old password 1").buffer);
    const old = { ssid: "OldHome", keyType: 3, password: "old password 1" } as WifiCredentials;
    expect(new SavedNetworkStore(legacy).load()).toEqual(old);
    everyCut(legacy, (s) => s.save(HOME), old, HOME);
    const after = legacy.clone();
    new SavedNetworkStore(after).save(HOME);
    expect([...after.records.keys()].some((k) => k.endsWith("/psk") || k.endsWith("/ssid"))).toBe(false);
  });
});
