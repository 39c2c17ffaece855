// Personalities: which real plug this device answers as (PROTOCOL §3). Each names a model, its
// hardware and firmware versions, and the sysinfo generation whose exact key set it answers with.

/**
 * v1: HS100/HS110 hw 1.x, fw 1.0-1.2 (`type`, `fwId`, float latitude/longitude).
 * v2: fw 1.5.x (`type`, `fwId`, `latitude_i`/`longitude_i`, `next_action`).
 * new: 2019+ firmware (`mic_type`, no `fwId`, `status`, and on some models `ntc_state`/`obd_src`).
 */
export type Generation = "v1" | "v2" | "new";

/** Energy meter units: v1 floats (A, V, W, kWh; written with 6 decimals, JsonOut.thousandths), v2 integers (mA, mV, mW, Wh); none without a meter. */
export type EmeterUnits = "none" | "v1" | "v2";

export interface Personality {
  /** The name used on the command line and in settings. */
  readonly key: string;
  readonly model: string;
  readonly hwVer: string;
  readonly swVer: string;
  /** Product description; never contains "light" or "Dimmer" (python-kasa would take it for a switch). */
  readonly devName: string;
  readonly generation: Generation;
  readonly emeter: EmeterUnits;
  /** How a plug without a meter refuses emeter: at module level (old fw) or per method (fw 1.5+). */
  readonly noEmeterAt: "module" | "method";
  /** New-generation models that also report `ntc_state` and `obd_src`. */
  readonly ntcObd: boolean;
  /** v1 firmware answers set_stainfo with the MAC next to err_code. */
  readonly stainfoMac: boolean;
}

function personality(p: Personality): Personality {
  return Object.freeze(p);
}

export const PERSONALITIES: readonly Personality[] = Object.freeze([
  personality({
    key: "HS100", model: "HS100(US)", hwVer: "1.0", swVer: "1.2.5 Build 171129 Rel.174814",
    devName: "Wi-Fi Smart Plug", generation: "v1", emeter: "none", noEmeterAt: "module", ntcObd: false, stainfoMac: true,
  }),
  personality({
    key: "HS105", model: "HS105(US)", hwVer: "1.0", swVer: "1.5.6 Build 191114 Rel.104204",
    devName: "Smart Wi-Fi Plug Mini", generation: "v2", emeter: "none", noEmeterAt: "method", ntcObd: false, stainfoMac: false,
  }),
  personality({
    key: "HS110", model: "HS110(EU)", hwVer: "1.0", swVer: "1.2.5 Build 171213 Rel.101523",
    devName: "Wi-Fi Smart Plug With Energy Monitoring", generation: "v1", emeter: "v1", noEmeterAt: "module", ntcObd: false, stainfoMac: true,
  }),
  personality({
    key: "HS103", model: "HS103(US)", hwVer: "2.1", swVer: "1.1.4 Build 210409 Rel.113427",
    devName: "Smart Wi-Fi Plug Lite", generation: "new", emeter: "none", noEmeterAt: "method", ntcObd: false, stainfoMac: false,
  }),
  personality({
    key: "KP115", model: "KP115(EU)", hwVer: "1.0", swVer: "1.0.16 Build 210205 Rel.163735",
    devName: "Smart Wi-Fi Plug Mini", generation: "new", emeter: "v2", noEmeterAt: "method", ntcObd: true, stainfoMac: false,
  }),
]);

export const DEFAULT_PERSONALITY = "HS100";

/** Looks a personality up by key ("HS110") or model ("HS110(EU)"), in any case. */
export function findPersonality(name: string): Personality | undefined {
  const wanted = name.toUpperCase();
  for (const p of PERSONALITIES) if (p.key === wanted || p.model.toUpperCase() === wanted) return p;
  return undefined;
}
