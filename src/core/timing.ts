// Every timing a user can notice, in one place: the button, the LED patterns, the setup network,
// joining and reconnecting, and how often the relay state reaches flash. Milliseconds throughout.

/** A button level must hold this long to count (contact bounce is shorter). */
export const DEBOUNCE_MS = 50;
/** A press released before this toggles the relay; a longer one that ends before UNLOCK_HOLD_MS does nothing. */
export const SHORT_PRESS_MAX_MS = 1000;
/** Held at least this long (and let go before SETUP_HOLD_MS): the presence lock opens on release (presence.ts). */
export const UNLOCK_HOLD_MS = 2000;
/** Held at least this long: the setup network opens on release. */
export const SETUP_HOLD_MS = 5000;
/** Held at least this long: factory reset on release. */
export const RESET_HOLD_MS = 10000;

/** Between accepting credentials and switching the radio: the answer (Kasa or web page) reaches the client first. */
export const RADIO_SWITCH_DELAY_MS = 1000;
/** The setup network closes after this long without a sign from one of its clients (an association or a request over it). */
export const SETUP_IDLE_MS = 10 * 60 * 1000;
/**
 * A provisioned plug's setup network closes this long after it opened, whatever its clients do (an
 * unprovisioned plug has no other network: its setup stays up while clients come). Onboarding with
 * a phone takes a few minutes, a second try after a wrong password a few more (a failed attempt
 * opens it again, for this long); 20 minutes leaves a slow owner room, and bounds how long a plug
 * whose button was held (or that fell back) offers the setup network's open onboarding.
 */
export const SETUP_MAX_MS = 20 * 60 * 1000;
/** A join attempt that has neither succeeded nor failed by then has failed. */
export const JOIN_TIMEOUT_MS = 30 * 1000;
/** Reconnect delays after the router went away: doubling from the first to the last. */
export const RECONNECT_FIRST_MS = 5 * 1000;
export const RECONNECT_MAX_MS = 5 * 60 * 1000;

/** A relay change reaches flash this long after the last change (a toggle storm makes one write). */
export const RELAY_SAVE_DELAY_MS = 3000;
/** Any other setting reaches flash this long after its last change (settings.ts: a storm of changes makes one write) ... */
export const SETTINGS_SAVE_DELAY_MS = 3000;
/** ... but no later than this after the first change waiting, while the hour's write budget allows (limits.ts). */
export const SETTINGS_SAVE_MAX_DELAY_MS = 60 * 1000;
/** The window of the settings write budget (Limits.settingsWritesPerHour). */
export const SETTINGS_BUDGET_WINDOW_MS = 60 * 60 * 1000;

/**
 * LED patterns: alternating on and off durations, repeated. Each is a rhythm of its own so that a
 * user can tell them apart without a manual: slow blink, fast flicker, triple flash, double flash,
 * and the held button's feedback. Joined (and an unprovisioned plug with its setup closed) shows the relay.
 */
export const LED_PATTERN = Object.freeze({
  /** An empty pattern is steady on. */
  setup: Object.freeze([1000, 1000]),
  joining: Object.freeze([100, 100]),
  failed: Object.freeze([150, 150, 150, 150, 150, 1500]),
  /** The presence lock is open (presence.ts): a double flash every 2 s, until a locked command used it or the window closed. */
  unlocked: Object.freeze([100, 150, 100, 1650]),
  /** Held past UNLOCK_HOLD_MS: an even blink ("release now to unlock"). */
  holdUnlock: Object.freeze([250, 250]),
  /** Held past SETUP_HOLD_MS: steady on ("release now for setup"). */
  holdSetup: Object.freeze([] as number[]),
  /** Held past RESET_HOLD_MS: very fast ("release now to wipe"). */
  holdReset: Object.freeze([50, 50]),
});

export type LedPatternName = keyof typeof LED_PATTERN;

/** The scheduler looks at the clock at least this often (each minute: statistics, clock jumps). */
export const SCHEDULER_TICK_MS = 60 * 1000;
/** A rule's minute missed by more than this (the clock jumped ahead, the plug was busy) is skipped, not run late. */
export const SCHEDULE_CATCH_UP_MS = 5 * 60 * 1000;
/** Usage statistics reach flash at most this often while they change (and before any restart). */
export const STATS_SAVE_INTERVAL_MS = 60 * 60 * 1000;

/** The energy meter's counter is put on the day's statistics this often (and on each emeter read). */
export const ENERGY_SAMPLE_MS = 60 * 1000;
/** Energy totals and statistics reach flash at most this often while they change (and before any restart). */
export const ENERGY_SAVE_INTERVAL_MS = 30 * 60 * 1000;

/** After the unlock gesture, one command behind the physical-presence lock is accepted within this long (presence.ts). */
export const PRESENCE_WINDOW_MS = 2 * 60 * 1000;

/**
 * A new firmware on trial (core/update/confirm.ts) must join its network and serve a request within
 * this long, or it restarts and the bootloader goes back to the previous one. Joining takes up to
 * JOIN_TIMEOUT_MS and its retries; a client asks within a minute or two (Home Assistant polls every
 * 30 s); five minutes leave a slow router room and bound how long a bad image runs.
 */
export const UPDATE_CONFIRM_MS = 5 * 60 * 1000;

/**
 * After an update is accepted the plug restarts into it this much later: long enough for the
 * upload's answer to reach the owner's browser (a few hundred bytes), short enough not to matter.
 */
export const UPDATE_RESTART_DELAY_MS = 1000;
