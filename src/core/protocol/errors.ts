// The error answers of the Kasa protocol (PROTOCOL §2.0), exactly as real plugs word them.
// Each is one frozen object shared by every answer that carries it.

export interface KasaError {
  readonly err_code: number;
  readonly err_msg: string;
}

function error(err_code: number, err_msg: string): KasaError {
  return Object.freeze({ err_code, err_msg });
}

/** Unknown module (answered at module level), or a known module the hardware lacks. */
export const MODULE_NOT_SUPPORT = error(-1, "module not support");
/** Unknown method in a known module. */
export const MEMBER_NOT_SUPPORT = error(-2, "member not support");
/** Missing, ill-typed or out-of-range parameters; nothing was changed. */
export const INVALID_ARGUMENT = error(-3, "invalid argument");
/** Something failed inside the plug (a bug or a failing store); nothing was changed. */
export const UNKNOWN_ERROR = error(-7, "unknown error");
/** The count_down table holds one rule. */
export const TABLE_FULL = error(-10, "table is full");
/** A rule change before any time source answered (no SNTP, set_timezone or set_time yet). */
export const TIME_NOT_SYNC = error(-11, "time not sync");
/** No rule with that id. */
export const ENTRY_NOT_EXIST = error(-14, "entry not exist");
/** emeter.start_calibration without a steady known load (or without a meter chip); nothing was changed. */
export const CANNOT_CALIBRATE = error(-23, "calibration needs a known load: no fresh reading with current, or a gain out of range");
/** cnCloud.bind: this firmware never talks to TP-Link's cloud. */
export const CLOUD_UNREACHABLE = error(-21, "can not connect to the server");

/** The answer to a method whose whole effect is storing settings: success, or -7 when the store refused. */
export function saved(ok: boolean): { err_code?: number } | KasaError {
  return ok ? {} : UNKNOWN_ERROR;
}

/** What an exception says, for a log line (anything may be thrown, not only Errors). */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
