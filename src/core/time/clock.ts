// The plug's wall clock: UTC from the clock port, corrected by whatever `time.set_time` or
// `time.set_timezone` told it, shown in the TP-Link zone (index 0-109) with that zone's DST rule.

import type { ClockPort } from "../../ports/ports.js";
import { int, type Params } from "../protocol/params.js";
import { daysInMonth, joinLocal, splitLocal, type LocalTime } from "./civil.js";
import { isDstAt, localToUtc, parseTzRule, type TzRule } from "./tzrule.js";
import { DEFAULT_ZONE, ZONE_COUNT, zoneRule } from "./zones.js";

export class WallClock {
  /** Added to the port's clock: what set_time/set_timezone corrected. */
  private correctionMs = 0;
  private setByClient = false;
  private zoneIndex = DEFAULT_ZONE;
  private rule!: TzRule;
  /** Counts set_time/set_timezone changes: the scheduler recomputes its next actions when it moves. */
  changes = 0;

  constructor(private readonly port: ClockPort, zone: number = DEFAULT_ZONE) {
    if (!this.setZone(zone)) this.setZone(DEFAULT_ZONE);
  }

  get zone(): number {
    return this.zoneIndex;
  }

  /** True once a time source answered: the platform's (host clock, SNTP) or a client's set_time. */
  synced(): boolean {
    return this.setByClient || this.port.synced();
  }

  utcMs(): number {
    return this.port.now() + this.correctionMs;
  }

  /** Local wall time in the configured zone. */
  local(): LocalTime {
    // toLocalMs inlined: get_time is on the request path, where the XS stack is tight (docs/MEMORY.md)
    const utc = this.utcMs();
    const rule = this.rule;
    return splitLocal(utc + (isDstAt(rule, utc) ? rule.dst : rule.std) * 1000);
  }

  /** The wall-clock ms (see civil.ts) of an instant in the configured zone. */
  toLocalMs(utcMs: number): number {
    const rule = this.rule;
    return utcMs + (isDstAt(rule, utcMs) ? rule.dst : rule.std) * 1000;
  }

  /** The instant at which the wall clock reads `localMs`; a skipped time maps past the gap, a repeated one to its first occurrence. */
  toUtc(localMs: number): number {
    return localToUtc(this.rule, localMs);
  }

  /** Switches to TP-Link zone `index`; false (and no change) when it is not 0-109. */
  setZone(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= ZONE_COUNT) return false;
    const rule = parseTzRule(zoneRule(index)!);
    if (rule === undefined) return false;
    this.zoneIndex = index;
    this.rule = rule;
    this.changes++;
    return true;
  }

  /** Sets the clock from a local wall time in the current zone (already validated). */
  setLocal(t: Omit<LocalTime, "wday">): void {
    const utc = localToUtc(this.rule, joinLocal(t.year, t.month, t.mday, t.hour, t.min, t.sec));
    this.correctionMs = utc - this.port.now();
    this.setByClient = true;
    this.changes++;
  }
}

/** Validates the six date fields of set_time/set_timezone; undefined when any is missing or wrong. */
export function readLocalTime(params: Params): Omit<LocalTime, "wday"> | undefined {
  const year = int(params.year, 2000, 2099);
  const month = int(params.month, 1, 12);
  const hour = int(params.hour, 0, 23);
  const min = int(params.min, 0, 59);
  const sec = int(params.sec, 0, 59);
  if (year === undefined || month === undefined || hour === undefined || min === undefined || sec === undefined) return undefined;
  const mday = int(params.mday, 1, daysInMonth(year, month));
  if (mday === undefined) return undefined;
  return { year, month, mday, hour, min, sec };
}
