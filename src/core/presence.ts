// The physical-presence lock. The Kasa protocol has no authentication: anyone on the LAN can send
// anything. Commands that can take the plug away from its owner (a new Wi-Fi network on a joined
// plug, factory reset, identity changes, the cloud server) are refused unless the plug's button was
// pressed within the last PRESENCE_WINDOW_MS, so that only someone standing at the plug can do them.
// Switching, naming, rules and time stay open: Home Assistant and Homebridge never need the button.

import type { PlugContext } from "./context.js";
import type { Method, RequestContext } from "./dispatcher.js";
import type { KasaError } from "./errors.js";
import { PRESENCE_WINDOW_MS } from "./timing.js";

/** The answer to a locked command: no real plug has one, so ours says what to do. */
export const PRESENCE_REQUIRED: KasaError = Object.freeze({
  err_code: -20,
  err_msg: `locked: press the plug's button, then send this within ${PRESENCE_WINDOW_MS / 60000} minutes`,
});

export class PresenceLock {
  /** Monotonic ms of the last press; -1: none since boot. */
  private pressedAt = -1;

  constructor(
    /** False when the build turned the lock off: every command is open. */
    readonly enabled: boolean,
    private readonly now: () => number,
  ) {}

  /** The button went down (debounced): someone is at the plug. */
  pressed(): void {
    this.pressedAt = this.now();
  }

  /** True when a guarded command may run now. */
  open(): boolean {
    return !this.enabled || (this.pressedAt >= 0 && this.now() - this.pressedAt <= PRESENCE_WINDOW_MS);
  }
}

/**
 * `method` behind the lock; `when` (optional) says whether this call needs it at all (set_stainfo
 * only once the plug has a network, unless it comes from a client of the setup network while that
 * is up). Parameters are checked by the method only once the lock is open, so a locked plug answers
 * the same to every caller.
 */
export function physical(method: Method, when?: (plug: PlugContext, request: RequestContext) => boolean): Method {
  return (plug, params, request) => {
    if (!plug.presence.open() && (when === undefined || when(plug, request))) {
      plug.log("refused: needs a button press first");
      return PRESENCE_REQUIRED;
    }
    return method(plug, params, request);
  };
}
