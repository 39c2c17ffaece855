// Kasa module `cnCloud` (PROTOCOL §2.3), answered as a plug that has no cloud account and never
// reaches TP-Link's cloud: it works locally only. Account passwords are never stored or echoed.
// In the secure and both modes (issue 18) `bind` is how the Kasa app hands a plug its owner's
// account: the plug keeps them as its KLAP credentials (their auth hash only: klap/owner.ts), and
// `unbind` forgets them; both only from a client of the setup network while it is up, or with the
// presence lock open. In legacy mode bind answers as a plug that cannot reach the cloud.

import type { PlugContext } from "../protocol/context.js";
import type { Module, RequestContext } from "../protocol/dispatcher.js";
import { credentialsProblem } from "../klap/owner.js";
import { CLOUD_UNREACHABLE, INVALID_ARGUMENT, saved, type KasaError } from "../protocol/errors.js";
import { str, type Params } from "../protocol/params.js";
import { physical } from "../device/presence.js";
import { KEY, MAX_VALUE_BYTES } from "../storage/settings.js";

export const DEFAULT_CLOUD_SERVER = "devs.tplinkcloud.com";

/** Whether bind and unbind meet the presence lock: in the KLAP modes, unless from a client of the setup network while it is up. */
function ownerLocked(plug: PlugContext, request: RequestContext): boolean {
  return plug.owner !== undefined && !(request.setupClient === true && plug.onboarding.state === "setup");
}

/** bind's parameter check (presence.ts: before the lock): the credentials' problem as an invalid argument. */
function checkBind(_plug: PlugContext, params: Params): KasaError | undefined {
  const problem = credentialsProblem(params.username, params.password);
  return problem === undefined ? undefined : { err_code: INVALID_ARGUMENT.err_code, err_msg: `invalid argument: ${problem}` };
}

function noCheck(): undefined {
  return undefined;
}

/** set_server_url's parameter check (presence.ts: before the lock). */
function checkServer(_plug: PlugContext, params: Params): KasaError | undefined {
  return str(params.server, MAX_VALUE_BYTES, 1) === undefined ? INVALID_ARGUMENT : undefined;
}

export const cnCloudModule: Module = Object.freeze({
  // All ten fields, with a factory-state plug's values (python-kasa's CloudInfo needs every one).
  get_info: (plug: PlugContext) => ({
    username: "",
    server: plug.settings.text(KEY.cloudServer, DEFAULT_CLOUD_SERVER),
    binded: plug.owner?.set() ? 1 : 0,
    cld_connection: 0,
    illegalType: -1,
    stopConnect: -1,
    tcspStatus: -1,
    fwDlPage: "",
    tcspInfo: "",
    fwNotifyType: 0,
  }),

  bind: physical(
    "cnCloud.bind",
    (plug: PlugContext, params: Params, request: RequestContext) => {
      const owner = plug.owner;
      if (owner === undefined) {
        if (typeof params.username !== "string" || typeof params.password !== "string") return INVALID_ARGUMENT;
        return CLOUD_UNREACHABLE;
      }
      const invalid = checkBind(plug, params);
      if (invalid !== undefined) return invalid;
      const problem = owner.store(params.username as string, params.password as string);
      if (problem !== undefined) return saved(false);
      plug.log(`the owner's credentials set by cnCloud.bind from ${request.client ?? "?"}`);
      return {};
    },
    ownerLocked,
    checkBind,
  ),

  unbind: physical(
    "cnCloud.unbind",
    (plug: PlugContext, _params: Params, request: RequestContext) => {
      if (plug.owner?.set()) {
        plug.owner.clear();
        plug.log(`KLAP credentials cleared by cnCloud.unbind from ${request.client ?? "?"}`);
      }
      return {};
    },
    ownerLocked,
    noCheck,
  ),

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
