// Validation of Wi-Fi credentials, the same for netif.set_stainfo and the setup page: SSID 1-32
// bytes, WPA/WPA2 passphrase 8-63 printable ASCII or 64 hex digits, no password for open networks,
// WEP refused; a password sent for an open network is dropped. Each failure has its own message; nothing is changed by a refused attempt.

import type { WifiCredentials, WifiKeyType } from "../../ports/ports.js";
import { hex, str } from "../protocol/params.js";

/** Why credentials were refused (the Kasa answer is -3 with this as err_msg). */
export const CREDENTIAL_ERROR = Object.freeze({
  /** A missing field, a wrong type or an unknown key_type: the plug's own wording. */
  invalid: "invalid argument",
  ssid: "invalid argument: ssid must be 1-32 bytes",
  wep: "invalid argument: WEP is insecure and not supported, use WPA2",
  passphrase: "invalid argument: password must be 8-63 printable ASCII characters or 64 hex digits",
});

export type Checked = { ok: true; credentials: WifiCredentials } | { ok: false; error: string };

/** Reads {ssid, password, key_type} as set_stainfo sends them. */
export function checkCredentials(ssid: unknown, password: unknown, keyType: unknown): Checked {
  if (typeof ssid !== "string" || typeof keyType !== "number") return refused(CREDENTIAL_ERROR.invalid);
  if (keyType !== 0 && keyType !== 1 && keyType !== 2 && keyType !== 3) return refused(CREDENTIAL_ERROR.invalid);
  if (password !== undefined && typeof password !== "string") return refused(CREDENTIAL_ERROR.invalid);
  if (str(ssid, 32, 1) === undefined) return refused(CREDENTIAL_ERROR.ssid);
  if (keyType === 1) return refused(CREDENTIAL_ERROR.wep);
  // An open network needs no password; one sent anyway is dropped (clients fill the field regardless).
  if (keyType === 0) return { ok: true, credentials: { ssid, password: "", keyType: 0 } };
  const p = password ?? "";
  if (!validPassphrase(p)) return refused(CREDENTIAL_ERROR.passphrase);
  return { ok: true, credentials: { ssid, password: p, keyType: keyType as WifiKeyType } };
}

function refused(error: string): Checked {
  return { ok: false, error };
}

/** WPA's rule: 8-63 printable ASCII characters, or exactly 64 hex digits (the raw 256-bit key). */
export function validPassphrase(p: string): boolean {
  if (p.length === 64) return hex(p, 64) !== undefined;
  if (p.length < 8 || p.length > 63) return false;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 32 || c > 126) return false;
  }
  return true;
}
