// Kasa module `netif` (PROTOCOL §2.2): Wi-Fi scan, station info and new station credentials. The
// credentials go to the onboarding state machine once the answer is out; the password is never
// logged, stored by the core or returned.

import type { WifiNetwork } from "../../ports/ports.js";
import type { PlugContext } from "../protocol/context.js";
import type { MethodResult, Module, RequestContext } from "../protocol/dispatcher.js";
import { INVALID_ARGUMENT } from "../protocol/errors.js";
import { checkCredentials } from "../onboarding/credentials.js";
import { flag, has, type Params } from "../protocol/params.js";
import { physical } from "../device/presence.js";
import type { JsonOut, JsonWritable } from "../protocol/wire/json-out.js";

/** Most networks listed by get_scaninfo. */
export const MAX_SCAN_ENTRIES = 32;
/** How long a scan may take before the answer goes out with what is known (python-kasa waits 5 s). */
export const SCAN_TIMEOUT_MS = 4000;

/**
 * The scan's answer, written straight from the radio's list (no copy of each network made for it):
 * `[{"ssid":…,"key_type":…},…]`, hidden networks left out, at most MAX_SCAN_ENTRIES. Only keys
 * python-kasa's WifiNetwork accepts (it builds WifiNetwork(**entry)).
 */
class ApList implements JsonWritable {
  constructor(private readonly networks: WifiNetwork[]) {}

  writeJson(out: JsonOut): void {
    out.byte(0x5b);
    let listed = 0;
    for (let i = 0; i < this.networks.length && listed < MAX_SCAN_ENTRIES; i++) {
      const n = this.networks[i];
      if (n.ssid.length === 0) continue;
      if (listed++ > 0) out.byte(0x2c);
      out.byte(0x7b);
      out.string("ssid");
      out.byte(0x3a);
      out.string(n.ssid);
      out.byte(0x2c);
      out.string("key_type");
      out.byte(0x3a);
      out.number(n.keyType);
      out.byte(0x7d);
    }
    out.byte(0x5d);
  }
}

function invalidCredentials(error: string): MethodResult {
  return { err_code: INVALID_ARGUMENT.err_code, err_msg: error };
}

/** set_stainfo's parameter check (presence.ts: before the lock): the answer the method gives to bad credentials. */
function checkStainfo(_plug: PlugContext, params: Params): MethodResult | undefined {
  const checked = checkCredentials(params.ssid, params.password, params.key_type);
  return checked.ok ? undefined : invalidCredentials(checked.error);
}

export const netifModule: Module = Object.freeze({
  get_scaninfo: (plug: PlugContext, params: Params) => {
    if (has(params, "refresh") && flag(params.refresh) === undefined) return INVALID_ARGUMENT;
    return new Promise<MethodResult>((resolve) => {
      let answered = false;
      const timer = plug.timers.after(SCAN_TIMEOUT_MS, () => {
        if (answered) return;
        answered = true;
        resolve({ ap_list: new ApList([]) });
      });
      plug.wifi.scan((networks) => {
        if (answered) return;
        answered = true;
        plug.timers.cancel(timer);
        resolve({ ap_list: new ApList(networks) });
      });
    });
  },

  /** The saved network (ssid, key_type) and the signal; never the password. */
  get_stainfo: (plug: PlugContext) => {
    const saved = plug.wifi.saved();
    return { ssid: saved?.ssid ?? "", key_type: saved?.keyType ?? 0, rssi: plug.wifi.rssi() };
  },

  // Onboarding is open: an unprovisioned plug, or a request over TCP from a client of the setup
  // network while it is up (WPA2, opened by a 5 s hold or the opt-in fallback). Moving a plug off its
  // network from the home network needs presence, setup network up or not.
  set_stainfo: physical(
    "netif.set_stainfo",
    (plug: PlugContext, params: Params, request: RequestContext) => {
      const checked = checkCredentials(params.ssid, params.password, params.key_type);
      if (!checked.ok) return invalidCredentials(checked.error);
      // The answer leaves first; the radio changes mode RADIO_SWITCH_DELAY_MS later.
      request.afterReply(() => plug.onboarding.received(checked.credentials));
      return plug.personality.stainfoMac ? { mac: plug.device.identity.mac } : {};
    },
    (plug: PlugContext, request: RequestContext) => plug.onboarding.provisioned() && !(request.setupClient && plug.onboarding.state === "setup"),
    checkStainfo,
  ),
});
