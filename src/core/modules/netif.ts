// Kasa module `netif` (PROTOCOL §2.2): Wi-Fi scan, station info and new station credentials, all
// through the Wi-Fi port. The password is handed to the radio and nowhere else.

import type { WifiKeyType, WifiNetwork } from "../../ports/ports.js";
import type { PlugContext } from "../context.js";
import type { MethodResult, Module, RequestContext } from "../dispatcher.js";
import { INVALID_ARGUMENT, UNKNOWN_ERROR } from "../errors.js";
import { flag, has, hex, int, str, type Params } from "../params.js";
import { KEY } from "../settings.js";

/** Most networks listed by get_scaninfo. */
export const MAX_SCAN_ENTRIES = 32;
/** How long a scan may take before the answer goes out with what is known (python-kasa waits 5 s). */
export const SCAN_TIMEOUT_MS = 4000;

/** Validates set_stainfo's credentials; the password rules are WPA's (8-63 printable ASCII or 64 hex). */
export function readCredentials(params: Params): { ssid: string; password: string; keyType: WifiKeyType } | undefined {
  const ssid = str(params.ssid, 32, 1);
  const keyType = int(params.key_type, 0, 3) as WifiKeyType | undefined;
  if (ssid === undefined || keyType === undefined) return undefined;
  if (keyType === 0) return { ssid, password: "", keyType };
  if (keyType === 1) return undefined; // WEP: refused, it protects nothing
  const password = params.password;
  if (typeof password !== "string" || !validPassphrase(password)) return undefined;
  return { ssid, password, keyType };
}

function validPassphrase(p: string): boolean {
  if (p.length === 64) return hex(p, 64) !== undefined; // a raw 256-bit PSK
  if (p.length < 8 || p.length > 63) return false;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 32 || c > 126) return false;
  }
  return true;
}

function apList(networks: WifiNetwork[]): MethodResult {
  const list: { ssid: string; key_type: number }[] = [];
  for (const n of networks) {
    if (list.length >= MAX_SCAN_ENTRIES) break;
    if (n.ssid.length > 0) list.push({ ssid: n.ssid, key_type: n.keyType });
  }
  // Only keys python-kasa's WifiNetwork accepts (it builds WifiNetwork(**entry)).
  return { ap_list: list };
}

export const netifModule: Module = Object.freeze({
  get_scaninfo: (plug: PlugContext, params: Params) => {
    if (has(params, "refresh") && flag(params.refresh) === undefined) return INVALID_ARGUMENT;
    return new Promise<MethodResult>((resolve) => {
      let answered = false;
      const timer = plug.timers.after(SCAN_TIMEOUT_MS, () => {
        if (answered) return;
        answered = true;
        resolve({ ap_list: [] });
      });
      plug.wifi.scan((networks) => {
        if (answered) return;
        answered = true;
        plug.timers.cancel(timer);
        resolve(apList(networks));
      });
    });
  },

  get_stainfo: (plug: PlugContext) => {
    const s = plug.wifi.station();
    return { ssid: s.ssid, key_type: s.keyType, rssi: s.rssi };
  },

  set_stainfo: (plug: PlugContext, params: Params, request: RequestContext) => {
    const credentials = readCredentials(params);
    if (credentials === undefined) return INVALID_ARGUMENT;
    const { settings, wifi } = plug;
    if (!settings.put(KEY.wifiSsid, credentials.ssid) || !settings.put(KEY.wifiKeyType, credentials.keyType)) return UNKNOWN_ERROR;
    plug.log(`joining Wi-Fi network "${credentials.ssid}"`);
    // The answer must leave before the radio changes mode, or the client never sees it.
    request.afterReply(() => wifi.join(credentials));
    return plug.personality.stainfoMac ? { mac: plug.device.identity.mac } : {};
  },
});
