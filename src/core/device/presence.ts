// The physical-presence lock. The Kasa protocol has no authentication: anyone on the LAN can send
// anything. Commands that can take the plug away from its owner or make it lie (a new Wi-Fi network
// on a joined plug, factory reset, identity changes, the cloud server, the meter's calibration) are
// refused unless the owner, standing at the plug, opened the lock with a gesture of its own: the
// button held 2-5 s and let go (button.ts). That gesture changes nothing else, so nothing on the
// network shows it (an everyday toggle shows in sysinfo's relay_state, and no longer unlocks).
//
// Once open, the lock takes ONE locked command, within PRESENCE_WINDOW_MS, then closes; the LED
// shows a pattern of its own while it is open (indicator.ts). A locked command's parameters are
// checked before the lock: an invalid one gets its usual error whether the lock is open or not,
// and does not use the opening. So the answer to a locked command depends on the lock only when
// the command is valid, and then only as "refused" or "done": probing tells nothing before the
// owner's gesture. A valid locked command refused soon after an opening was used gets a message of
// its own (PRESENCE_USED): the owner whose command comes second learns that another came first.

import type { TimerHandle, TimerPort } from "../../ports/ports.js";
import type { PlugContext } from "../protocol/context.js";
import type { Method, MethodResult, RequestContext } from "../protocol/dispatcher.js";
import type { KasaError } from "../protocol/errors.js";
import type { Params } from "../protocol/params.js";
import { PRESENCE_WINDOW_MS } from "../timing.js";

/** The answer to a locked command: no real plug has one, so ours says what to do. */
export const PRESENCE_REQUIRED: KasaError = Object.freeze({
  err_code: -20,
  err_msg: `locked: hold the plug's button 2-5 s (let go when the LED blinks), then send this within ${PRESENCE_WINDOW_MS / 60000} minutes`,
});

/** The answer to a locked command soon after an opening of the lock was used by another one (tamper evidence). */
export const PRESENCE_USED: KasaError = Object.freeze({
  err_code: -20,
  err_msg: "locked: the lock opened by the button was used by an earlier command (one per opening); if that was not yours, another client was waiting for it",
});

/** What hears that the lock opened or closed (the LED), and that an opening went unused (the log). */
export interface PresenceListener {
  presenceChanged(): void;
  presenceExpired(): void;
}

/**
 * A locked method's parameter check: the error its method would answer for these parameters
 * (exactly that one), or undefined when they are valid. It changes nothing.
 */
export type ParamsCheck = (plug: PlugContext, params: Params) => MethodResult | KasaError | undefined;

export class PresenceLock {
  /** Monotonic ms of the unlock gesture while the lock is open; -1: closed. */
  private openedAt = -1;
  /** Monotonic ms at which a locked command last used an opening; -1: none since boot or since the last opening. */
  private usedAt = -1;
  private timer: TimerHandle | undefined;
  listener: PresenceListener | undefined;

  constructor(
    /** False when the build turned the lock off: every command is open. */
    readonly enabled: boolean,
    private readonly now: () => number,
    private readonly timers: TimerPort,
  ) {}

  /** The owner's gesture (the button held 2-5 s): one locked command may run within PRESENCE_WINDOW_MS. */
  unlock(): void {
    if (!this.enabled) return;
    this.openedAt = this.now();
    this.usedAt = -1;
    this.timers.cancel(this.timer);
    this.timer = this.timers.after(PRESENCE_WINDOW_MS, this);
    this.listener?.presenceChanged();
  }

  /** True while an opening waits for its command (never when the build has no lock): the LED shows it. */
  unlocked(): boolean {
    return this.openedAt >= 0 && this.now() - this.openedAt < PRESENCE_WINDOW_MS;
  }

  /** True when a locked command may run now. */
  open(): boolean {
    return !this.enabled || this.unlocked();
  }

  /**
   * A valid locked command meets the lock: undefined when it may run (the opening is used up: the
   * lock closes), else the refusal to answer.
   */
  enter(): KasaError | undefined {
    const now = this.now();
    if (this.unlocked()) {
      this.close();
      this.usedAt = now;
      return undefined;
    }
    return this.usedAt >= 0 && now - this.usedAt < PRESENCE_WINDOW_MS ? PRESENCE_USED : PRESENCE_REQUIRED;
  }

  /** Its timer (a TimerTarget): the window ended unused. */
  fired(): void {
    this.timer = undefined;
    if (this.openedAt < 0) return;
    this.close();
    this.listener?.presenceExpired();
  }

  stop(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
  }

  private close(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
    this.openedAt = -1;
    this.listener?.presenceChanged();
  }
}

/**
 * `method` behind the lock, `label` its module.method for the log; `when` (optional) says whether this call needs it at all (set_stainfo
 * only once the plug has a network, unless it comes from a client of the setup network while that
 * is up); `check` says which parameters the method refuses. When the lock applies, the parameters
 * are checked first (an invalid command is answered the same, locked or open, and uses nothing),
 * then the lock is met: refused, or run, which closes it. The log says which command from which
 * client was refused or used the opening.
 */
export function physical(label: string, method: Method, when: ((plug: PlugContext, request: RequestContext) => boolean) | undefined, check: ParamsCheck): Method {
  return (plug, params, request) => {
    const lock = plug.presence;
    if (!lock.enabled || !(when === undefined || when(plug, request))) return method(plug, params, request);
    const invalid = check(plug, params);
    if (invalid !== undefined) return invalid;
    const refused = lock.enter();
    const client = request.client ?? "?";
    if (refused === PRESENCE_USED) plug.log(`refused ${label} from ${client}: the button's opening was used by an earlier command (if not yours, another client was waiting for it)`);
    else if (refused !== undefined) plug.log(`refused ${label} from ${client}: locked (hold the button 2-5 s first)`);
    else plug.log(`presence lock: used by ${label} from ${client}; locked again`);
    return refused ?? method(plug, params, request);
  };
}
