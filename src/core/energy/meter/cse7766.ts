// CSE7766 (Sonoff Pow R2, S31; the HLW8032 sends the same packet): a UART talker at 4800 baud 8E1
// that sends a 24-byte packet about every 50 ms. Written from the CSE7766 datasheet's UART section
// (packet table and register descriptions, register names as the CSE7766 and HLW8032 datasheets
// give them; the PDF itself could not be opened from here); cross-checked against ESPHome
// esphome/components/cse7766/cse7766.cpp, Tasmota tasmota_xnrg_energy/xnrg_02_cse7766.ino and
// ESPurna sensors/CSE7766Sensor.h, whose captured packets the tests replay. Our own code.
//
// Packet (datasheet packet table; every multi-byte register big-endian):
//   0      State REG      0x55 normal; 0xAA coefficient storage abnormal (parameters unusable);
//                         0xF? with bit 3 voltage, bit 2 current, bit 1 power cycle exceeds range,
//                         bit 0 coefficient storage abnormal
//   1      Check REG      always 0x5A
//   2-4    Voltage parameter REG (factory coefficient)   5-7   Voltage REG (cycle, µs)
//   8-10   Current parameter REG                         11-13 Current REG
//   14-16  Power parameter REG                           17-19 Power REG
//   20     Data Updata REG ("adj"): bit 7 PF register overflowed, bit 6 voltage, bit 5 current,
//          bit 4 power REG updated since the last packet; the low bits are reserved (bit 0 reads 1
//          in every captured packet)
//   21-22  PF REG: count of CF (energy) pulses, 16 bits, wraps
//   23     CheckSum: low byte of the sum of bytes 2..22 (the state and check bytes are not covered)
//
// Values (datasheet formulas, with the parameters the chip was factory-trimmed with, so that on
// Sonoff boards the quotients are volts, amps and watts as ESPHome and Tasmota use them):
//   V = Vparam / Vcycle, I = Iparam / Icycle, P = Pparam / Pcycle; each cycle is the period in µs
//   of the chip's internal pulse for that quantity, and the Power REG is the CF period, so one CF
//   pulse is Pparam / 10^6 watt-seconds (the datasheet's pulses-per-kWh formula, and what ESPHome,
//   Tasmota and ESPurna count).

import {
  bump, MeterBase, type Gains, type MeterLimits, type MeterStats, type MonotonicClock, type SerialReceivePort,
} from "./meter.js";

export const CSE_FRAME_BYTES = 24;
/** Check REG: the second byte of every packet (datasheet packet table). */
export const CSE_CHECK_BYTE = 0x5a;

/** State REG values and bits (datasheet, State REG description). */
export const CSE_STATE = Object.freeze({
  NORMAL: 0x55,
  /** Coefficient storage abnormal: the parameter registers are unusable. */
  NOT_CALIBRATED: 0xaa,
  /** The high nibble that marks the 0xF? form, whose low bits follow. */
  FLAGS: 0xf0,
  VOLTAGE_OVER_RANGE: 0x08,
  CURRENT_OVER_RANGE: 0x04,
  POWER_OVER_RANGE: 0x02,
  COEFFICIENT_ABNORMAL: 0x01,
});

/** Data Updata REG bits (datasheet, "adj" byte). */
export const CSE_ADJ = Object.freeze({
  PF_OVERFLOW: 0x80,
  VOLTAGE_UPDATED: 0x40,
  CURRENT_UPDATED: 0x20,
  POWER_UPDATED: 0x10,
});

/**
 * No valid packet for this long and the chip is silent (and `latest()` undefined): 20 packet
 * periods, so a burst of corrupted packets does not blank the reading but a dead UART shows within a second.
 */
export const CSE_SILENT_MS = 1000;
export const CSE_STALE_MS = 1000;
/**
 * A pause in delivery longer than this inside a packet means bytes were lost, not delayed: the
 * ESP8266's 128-byte UART FIFO holds about 290 ms of the stream (11 bits a byte at 4800 baud), so a
 * busy system delivers late but whole up to then. ESPHome resets its index after 500 ms as well.
 */
export const CSE_GAP_MS = 500;
/**
 * No power update for this long is no load: 0 W (and 0 A), as the HLW driver does after 10 s
 * without a CF pulse (Tasmota waits as long). By then the fade below bounds the power at
 * Pparam / 10 s, about 0.5 W with typical coefficients: a smaller load reads 0.
 */
export const CSE_NO_LOAD_MS = 10_000;

/** The registers of one packet, as numbers. */
export interface Cse7766Frame {
  state: number;
  voltageParam: number;
  voltageCycle: number;
  currentParam: number;
  currentCycle: number;
  powerParam: number;
  powerCycle: number;
  adj: number;
  /** PF REG: CF pulses, 16 bits. */
  cf: number;
}

/** Bytes that can start a packet: 0x55, 0xAA, 0xF0-0xFF (datasheet State REG). */
export function isCseState(b: number): boolean {
  return b === CSE_STATE.NORMAL || b === CSE_STATE.NOT_CALIBRATED || (b & 0xf0) === CSE_STATE.FLAGS;
}

function u24(b: Uint8Array, at: number): number {
  return (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
}

/** The checksum byte for a 24-byte packet: low byte of the sum of bytes 2..22. */
export function cseChecksum(frame: Uint8Array): number {
  let sum = 0;
  for (let k = 2; k < CSE_FRAME_BYTES - 1; k++) sum += frame[k];
  return sum & 0xff;
}

/** Reads the registers of a packet (no checks: the decoder has made them). */
export function parseCse7766Frame(frame: Uint8Array): Cse7766Frame {
  return {
    state: frame[0],
    voltageParam: u24(frame, 2),
    voltageCycle: u24(frame, 5),
    currentParam: u24(frame, 8),
    currentCycle: u24(frame, 11),
    powerParam: u24(frame, 14),
    powerCycle: u24(frame, 17),
    adj: frame[20],
    cf: (frame[21] << 8) | frame[22],
  };
}

/**
 * Streaming packet finder. Frames may arrive split across reads, several to a read, after or
 * between garbage. A candidate starts with a state byte followed by 0x5A; after a failed checksum
 * the search resumes inside the failed bytes (a real packet may have begun in them), so one lost
 * byte costs one packet, not a resynchronisation. Counts into `stats`: framesOk, badChecksum, badSync.
 */
export class Cse7766Decoder {
  private readonly buf = new Uint8Array(CSE_FRAME_BYTES);
  private fill = 0;

  constructor(private readonly stats: MeterStats) {}

  /** True while a packet has started arriving but is not complete. */
  get pending(): boolean {
    return this.fill > 0;
  }

  /** Drops a partial packet (bytes were lost); its bytes count as badSync. */
  reset(): void {
    if (this.fill > 0) bump(this.stats, "badSync", this.fill);
    this.fill = 0;
  }

  /** Consumes `chunk`; hands each packet with a valid checksum to `onFrame` (the decoder's own buffer, valid during the call). */
  feed(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    const buf = this.buf;
    for (let k = 0; k < chunk.length; k++) {
      const b = chunk[k];
      if (this.fill === 0) {
        if (isCseState(b)) buf[this.fill++] = b;
        else bump(this.stats, "badSync");
      } else if (this.fill === 1) {
        if (b === CSE_CHECK_BYTE) buf[this.fill++] = b;
        else {
          // the state byte was not one; this byte may be
          bump(this.stats, "badSync");
          if (isCseState(b)) buf[0] = b;
          else {
            bump(this.stats, "badSync");
            this.fill = 0;
          }
        }
      } else {
        buf[this.fill++] = b;
        if (this.fill === CSE_FRAME_BYTES) {
          if (cseChecksum(buf) === buf[CSE_FRAME_BYTES - 1]) {
            bump(this.stats, "framesOk");
            this.fill = 0;
            onFrame(buf);
          } else {
            bump(this.stats, "badChecksum");
            this.resync();
          }
        }
      }
    }
  }

  /** After a failed checksum: keeps the bytes from the next place a packet could have started. */
  private resync(): void {
    const buf = this.buf;
    for (let s = 1; s < CSE_FRAME_BYTES; s++) {
      if (isCseState(buf[s]) && (s === CSE_FRAME_BYTES - 1 || buf[s + 1] === CSE_CHECK_BYTE)) {
        buf.copyWithin(0, s, CSE_FRAME_BYTES);
        this.fill = CSE_FRAME_BYTES - s;
        return;
      }
    }
    this.fill = 0;
  }
}

export interface Cse7766Ports {
  serial: SerialReceivePort;
  clock: MonotonicClock;
}

export interface Cse7766Options {
  gains?: Gains;
  limits?: MeterLimits;
}

/** CF pulses are 16 bits in the PF REG. */
const CF_MODULO = 0x10000;

export class Cse7766Driver extends MeterBase {
  readonly model = "CSE7766";
  private readonly decoder: Cse7766Decoder;
  private running = false;
  private lastBytesAt = 0;
  private heardAt = 0;
  /** When the power and current registers were last updated (Data Updata REG bits), for the bound below. */
  private powerUpdatedAt = 0;
  private currentUpdatedAt = 0;
  /** The PF REG of the last accepted packet, and when: the base of the next energy step. */
  private cfBase = -1;
  private cfBaseAt = 0;
  private readonly onBytes = (bytes: Uint8Array) => this.receive(bytes);
  private readonly onFrame = (frame: Uint8Array) => this.frame(frame);

  constructor(private readonly ports: Cse7766Ports, options: Cse7766Options = {}) {
    super(ports.clock, CSE_STALE_MS, options);
    this.decoder = new Cse7766Decoder(this.counters);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const now = this.clock.monotonic();
    this.lastBytesAt = this.heardAt = this.powerUpdatedAt = this.currentUpdatedAt = now;
    this.cfBase = -1;
    this.forget();
    this.ports.serial.listen(this.onBytes);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.ports.serial.close();
    this.decoder.reset();
    this.forget();
  }

  protected override poll(now: number): void {
    if (this.running && now - this.heardAt >= CSE_SILENT_MS) this.goSilent();
  }

  private receive(bytes: Uint8Array): void {
    if (!this.running) return;
    const now = this.clock.monotonic();
    if (now - this.lastBytesAt > CSE_GAP_MS && this.decoder.pending) this.decoder.reset();
    this.lastBytesAt = now;
    this.decoder.feed(bytes, this.onFrame);
    this.poll(now);
  }

  private frame(bytes: Uint8Array): void {
    const now = this.clock.monotonic();
    // a checksummed packet: the chip talks, whatever it says
    this.heardAt = now;
    this.heard();
    const f = parseCse7766Frame(bytes);
    const flags = (f.state & 0xf0) === CSE_STATE.FLAGS ? f.state & 0x0f : 0;
    // The parameters are unusable (0xAA, bit 0), or the voltage cycle is over range: without mains
    // voltage there is nothing to report (ESPHome drops these packets too).
    if (f.state === CSE_STATE.NOT_CALIBRATED || (flags & (CSE_STATE.COEFFICIENT_ABNORMAL | CSE_STATE.VOLTAGE_OVER_RANGE)) !== 0) {
      bump(this.counters, "chipFault");
      return;
    }
    const rawV = (f.voltageParam / f.voltageCycle) * 1000;
    // "Power cycle exceeds range": the CF period is longer than the register holds, no load
    // (datasheet; ESPHome and Tasmota report 0 W on it).
    const rawP = flags & CSE_STATE.POWER_OVER_RANGE ? 0 : this.bounded(f.powerParam, f.powerCycle, f.adj & CSE_ADJ.POWER_UPDATED, "power", now);
    // Without active power the current channel reads noise (Tasmota and ESPHome report 0 A then;
    // ESPurna's no-load packet reads 86 mA).
    const rawI =
      rawP === 0 || flags & CSE_STATE.CURRENT_OVER_RANGE ? 0 : this.bounded(f.currentParam, f.currentCycle, f.adj & CSE_ADJ.CURRENT_UPDATED, "current", now);
    if (!this.publish(rawV, rawI, rawP, now)) return;
    this.energyStep(f.cf, f.powerParam, now);
  }

  /**
   * param / cycle in milli-units, never above what the period still running allows. The register
   * holds the last complete period; when the update bit has been clear for `elapsed` ms, the period
   * under way is already longer than that, so the quantity is at most param / elapsed. A load that
   * is switched off then fades at once instead of staying at its old value until the chip flags
   * the cycle over range (the register only spans 2^24 µs). In a steady state it never binds: the
   * next update comes before `elapsed` reaches the period. Tasmota waits out up to 128 packets
   * without a power update instead.
   */
  private bounded(param: number, cycle: number, updated: number, which: "power" | "current", now: number): number {
    if (updated) {
      if (which === "power") this.powerUpdatedAt = now;
      else this.currentUpdatedAt = now;
    }
    const since = now - (which === "power" ? this.powerUpdatedAt : this.currentUpdatedAt);
    if (since >= CSE_NO_LOAD_MS) return 0;
    // a cycle of 0 would be infinite: publish() rejects it as out of range
    let value = (param / cycle) * 1000;
    if (since > 0) value = Math.min(value, (param / (since * 1000)) * 1000);
    return value;
  }

  /**
   * Energy from the PF REG: the 16-bit count's difference to the last accepted packet's, each
   * pulse Pparam / 10^6 Ws. A difference larger than the power limit allows in the time between
   * is a corrupted count (Tasmota guards the same way, issues #5789, #7155): it is dropped and the
   * base moves on. When so much time passed that the count could have wrapped more than once
   * (65,536 pulses, over a minute at 5 kW), the difference is ambiguous and dropped too.
   */
  private energyStep(cf: number, powerParam: number, now: number): void {
    const base = this.cfBase;
    const elapsed = now - this.cfBaseAt;
    this.cfBase = cf;
    this.cfBaseAt = now;
    if (base < 0) return;
    const mwhPerPulse = powerParam / 1e6 / 3.6;
    const most = (this.limits.maxPower_mw * elapsed) / 3_600_000 / (mwhPerPulse * this.gains.power);
    if (most >= CF_MODULO) return;
    this.countPulses((cf - base + CF_MODULO) % CF_MODULO, mwhPerPulse, elapsed);
  }
}
