// The meter chips' ports on ESP8266 and ESP32, from what the Moddable SDK 8.2.3 really offers there
// (sources read: modules/io/serial/{esp,esp32}/serial.c, modules/io/pulsecount/esp32/_pulsecount.c,
// modules/io/digital/{esp,esp32}/digitalbank.c, modules/io/manifests/{esp,esp32}/manifest.json):
//
// - Serial (`embedded:io/serial`) is 8N1 only on both: the constructor has no parity, data-bit or
//   stop-bit option (esp/serial.c sets `USC0 = UART_8N1`; esp32/serial.c sets
//   `UART_PARITY_DISABLE`, 8 bits, 1 stop). The CSE7766 sends 8E1, so we read an 8E1 line as 8N1:
//   the 8 data bits are sampled where they are, the parity bit falls where a stop bit is expected
//   (a framing error whenever it is 0), and the real stop bit follows. Neither implementation
//   checks framing errors; whether the UART keeps such a byte and finds the next start bit is the
//   hardware's business and was not measured here (no hardware). Field reports: ESPHome read the
//   CSE7766 at 8N1 until 2024.10 and a user reports a Sonoff S31 works with parity NONE and EVEN
//   (esphome/esphome PR #7549), while a CSE7759B on a Sonoff S60 did not work without EVEN. Every
//   frame carries a checksum, which the driver checks: misframed bytes are counted, never used.
// - ESP8266: Serial is always UART0 on RX GPIO3 / TX GPIO1 whatever `receive` says, it claims
//   both pins, and it replaces the console's UART settings (trace output then goes out at 4800
//   baud on TX). A debug build's xsbug link uses the same UART: meter boards need release builds.
//   The RX FIFO is 128 bytes with the interrupt at 120: the JS thread must read within ~18 ms of
//   that (8 bytes at 4800 baud) or bytes are lost (counted by the driver as bad sync/checksum).
// - ESP32: Serial takes `receive` on any GPIO and `port` (UART0..2); we default to UART2.
// - `embedded:io/pulsecount` exists on ESP32 only (ESP8266: not in its io manifest), and it is a
//   quadrature decoder: channel A counts +1 on one edge of `signal` and -1 on the other, channel B
//   the same on `control` (esp32/_pulsecount.c: pcnt_channel_set_edge_action(DECREASE, INCREASE)
//   with level action KEEP/INVERSE). A single pulse train therefore nets 0 per period: it cannot
//   count CF/CF1 pulses. We do not use it.
// - `embedded:io/digital` interrupts are no counter either: the SDK delivers edges to JS coalesced
//   (the ISR sets a flag and posts one message until the JS thread has run onReadable:
//   esp/digitalbank.c `gDigitalCallbackPending`, esp32/digitalbank.c `triggered`), so onReadable
//   counts deliveries, not edges, and the chips' outputs at mains voltage are hundreds of hertz
//   (BL0937 CF1 in voltage mode ≈ 1.2 kHz at 230 V with the default divider, CF ≈ 490 Hz at 1 kW).
// - So the pulses are counted by the SDK's legacy `pins/digital/monitor`, whose ISR increments a
//   counter on every rising edge (modules/pins/digital/monitor/{esp,esp32}/modMonitor.c: `rises`),
//   read by the driver every 500 ms. On ESP8266 there is one GPIO interrupt handler, and the
//   monitor's replaces embedded:io/digital's (ETS_GPIO_INTR_ATTACH in both): a board with a pulse
//   meter therefore reads its button through a monitor too (MonitorButton, io-esp.ts). The monitor
//   takes GPIO0-15 on ESP8266. Not measured on hardware (none here).

import Digital from "embedded:io/digital";
import Serial from "embedded:io/serial";
import Monitor from "pins/digital/monitor";
import type { ButtonPort, DigitalOutPort, PulseCountPort, SerialReceivePort } from "../ports/ports.js";
import type { MeterPins } from "./meter.js";

/** The CSE7766's fixed rate (datasheet: 4800 bps, 8E1). */
const CSE_BAUD = 4800;
/** One read takes at most the hardware FIFO (128 bytes on both chips). */
const RX_CHUNK = 128;

class UartReceiver implements SerialReceivePort {
  private io: Serial | null = null;

  constructor(private readonly rx: number, private readonly uart: number) {}

  listen(onBytes: (bytes: Uint8Array) => void): void {
    if (this.io !== null) return;
    const chunk = new Uint8Array(RX_CHUNK);
    // receive only: no `transmit`, so the ESP32 leaves TX alone (the ESP8266's UART0 claims it anyway)
    this.io = new Serial({
      receive: this.rx,
      port: this.uart,
      baud: CSE_BAUD,
      format: "buffer",
      onReadable(this: Serial, count: number) {
        // at most what was readable when called, one FIFO at a time
        while (count > 0) {
          const n = this.read(chunk);
          if (typeof n !== "number" || n <= 0) return;
          onBytes(n === RX_CHUNK ? chunk : chunk.subarray(0, n));
          count -= n;
        }
      },
    });
  }

  close(): void {
    const io = this.io;
    this.io = null;
    io?.close();
  }
}

/** pins/digital/monitor's modes and edges (legacy pins/digital numbering). */
const MONITOR = Object.freeze({ input: 0, inputPullUp: 1, rising: 1, both: 3 });

type MonitorOptions = ConstructorParameters<typeof Monitor>[0];

/** Rising edges counted by the monitor's ISR; `read` gives those since the last read. */
class RiseCounter implements PulseCountPort {
  private readonly monitor: Monitor;
  private last: number;

  constructor(pinNumber: number) {
    // the chips' outputs are push-pull; the pull-up only keeps an unconnected pin quiet (Tasmota does the same)
    this.monitor = new Monitor({ pin: pinNumber, mode: MONITOR.inputPullUp, edge: MONITOR.rising } as MonitorOptions);
    this.last = this.monitor.rises;
  }

  read(): number {
    const rises = this.monitor.rises;
    // the count is a 32-bit integer that may wrap (as a signed one, read from C): the difference modulo 2^32
    const n = (rises - this.last) >>> 0;
    this.last = rises;
    return n;
  }
}

/**
 * The button through a monitor, on boards whose meter counts pulses (see the top of this file):
 * both edges wake it; it reports the pin's level then, and the core debounces.
 */
export class MonitorButton implements ButtonPort {
  private monitor: Monitor | null = null;

  constructor(private readonly pinNumber: number | undefined, private readonly activeLow: boolean) {}

  listen(onChange: (pressed: boolean) => void): void {
    if (this.pinNumber === undefined || this.monitor !== null) return;
    const activeLow = this.activeLow;
    const monitor = new Monitor({ pin: this.pinNumber, mode: activeLow ? MONITOR.inputPullUp : MONITOR.input, edge: MONITOR.both } as unknown as MonitorOptions);
    // the SDK calls the instance's onChanged (declared a method in the typings)
    (monitor as unknown as { onChanged: () => void }).onChanged = () => onChange((monitor.read() === 1) !== activeLow);
    this.monitor = monitor;
  }
}

class OutputPin implements DigitalOutPort {
  private readonly io: Digital;
  constructor(pinNumber: number) {
    this.io = new Digital({ pin: pinNumber, mode: Digital.Output });
  }
  write(high: boolean): void {
    this.io.write(high ? 1 : 0);
  }
}

export function espMeterPins(): MeterPins {
  return {
    serial: (rx, uart) => new UartReceiver(rx, uart),
    pulses: (pinNumber) => new RiseCounter(pinNumber),
    output: (pinNumber) => new OutputPin(pinNumber),
  };
}
