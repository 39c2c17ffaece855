// Kasa module `cnCloud` (PROTOCOL §2.3), answered as a plug that has no cloud account and never
// reaches TP-Link's cloud: it works locally only. Account passwords are never stored or echoed.

import type { PlugContext } from "../protocol/context.js";
import type { Module } from "../protocol/dispatcher.js";
import { CLOUD_UNREACHABLE, INVALID_ARGUMENT, saved, type KasaError } from "../protocol/errors.js";
import { str, type Params } from "../protocol/params.js";
import { physical } from "../device/presence.js";
import { KEY, MAX_VALUE_BYTES } from "../storage/settings.js";

export const DEFAULT_CLOUD_SERVER = "devs.tplinkcloud.com";

/** set_server_url's parameter check (presence.ts: before the lock). */
function checkServer(_plug: PlugContext, params: Params): KasaError | undefined {
  return str(params.server, MAX_VALUE_BYTES, 1) === undefined ? INVALID_ARGUMENT : undefined;
}

export const cnCloudModule: Module = Object.freeze({
  // All ten fields, with a factory-state plug's values (python-kasa's CloudInfo needs every one).
  get_info: (plug: PlugContext) => ({
    username: "",
    server: plug.settings.text(KEY.cloudServer, DEFAULT_CLOUD_SERVER),
    binded: 0,
    cld_connection: 0,
    illegalType: -1,
    stopConnect: -1,
    tcspStatus: -1,
    fwDlPage: "",
    tcspInfo: "",
    fwNotifyType: 0,
  }),

  bind: (_plug: PlugContext, params: Params) => {
    if (typeof params.username !== "string" || typeof params.password !== "string") return INVALID_ARGUMENT;
    return CLOUD_UNREACHABLE;
  },

  unbind: () => ({}),

  get_intl_fw_list: () => ({ fw_list: [] }),

  // Where the plug would phone home: behind the presence lock.
  set_server_url: physical(
    "cnCloud.set_server_url",
    (plug: PlugContext, params: Params) => {
      const server = str(params.server, MAX_VALUE_BYTES, 1);
      if (server === undefined) return INVALID_ARGUMENT;
      return saved(plug.settings.put(KEY.cloudServer, server));
    },
    undefined,
    checkServer,
  ),
});
