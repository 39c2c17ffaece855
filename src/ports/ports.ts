// The ports: the only ways the core reaches the world. Each platform (src/host for Node, src/moddable
// for XS) implements them in its own adapter folder and wires them together in its composition root.
// Keep them small: an ESP8266 adapter has to implement every one of them in a few lines.

/** The relay that switches the load. `set` is called only when the state really changes. */
export interface RelayPort {
  set(on: boolean): void;
}

/** The status LED. Patterns (blinking) are made by the core with the timer port. */
export interface LedPort {
  set(on: boolean): void;
}

/** The push button as the pin sees it: the core debounces (timings in core/timing.ts). */
export interface ButtonPort {
  /** Registers the one listener; `pressed` is true on press, false on release, contact bounce included. */
  listen(onChange: (pressed: boolean) => void): void;
}

/** Wall clock and a monotonic clock, both in milliseconds. */
export interface ClockPort {
  /** Milliseconds since 1970-01-01T00:00:00Z as the platform knows it (may be wrong until synced). */
  now(): number;
  /** Milliseconds from an arbitrary origin; never goes backwards (for on_time and timeouts). */
  monotonic(): number;
  /** True once the platform's wall clock came from a trustworthy source (host clock, SNTP). */
  synced(): boolean;
}

/** Whatever the platform's timer functions return; only ever handed back to `cancel`. */
export type TimerHandle = unknown;

/**
 * What a timer may call instead of a function: its one method, told which of its timers fired (the
 * handle `after` or `every` returned). The parts that keep a timer for their whole life use this:
 * on a device a function made at run time costs RAM for its code and the variables it closes over,
 * an object's method does not (docs/MEMORY.md).
 */
export interface TimerTarget {
  fired(handle: TimerHandle): void;
}

/** One-shot and repeating timers. */
export interface TimerPort {
  after(ms: number, callback: (() => void) | TimerTarget): TimerHandle;
  every(ms: number, callback: (() => void) | TimerTarget): TimerHandle;
  /** Stops a timer; undefined and timers that already fired are ignored. */
  cancel(handle: TimerHandle | undefined): void;
}

/**
 * Persistent settings. Shaped after the tightest store we run on (Moddable `preference` on an
 * ESP8266): keys of at most 15 characters, string values of at most 63 bytes of UTF-8.
 * `write` returns false when the value could not be stored.
 */
export interface KeyValuePort {
  read(key: string): string | undefined;
  write(key: string, value: string): boolean;
  remove(key: string): void;
  /** Every key currently stored (used by factory reset to wipe all but identity). */
  keys(): string[];
}

/** Key types as the Kasa protocol numbers them: 0 open, 1 WEP, 2 WPA-PSK, 3 WPA2-PSK. */
export type WifiKeyType = 0 | 1 | 2 | 3;

export interface WifiNetwork {
  ssid: string;
  keyType: WifiKeyType;
  rssi: number;
  channel?: number;
}

export interface WifiCredentials {
  ssid: string;
  /** Never logged, echoed or returned by anything in the core. */
  password: string;
  keyType: WifiKeyType;
}

/** The network the station joins after a restart: the password stays with the radio. */
export interface SavedNetwork {
  ssid: string;
  keyType: WifiKeyType;
}

/**
 * What the radio reports: `connected` (associated and has an address), `failed` (a join attempt
 * ended: `detail` is "auth" for a refused password, "not found", or the platform's reason), `lost`
 * (an established connection dropped), `client` (a phone or laptop associated with the setup network).
 */
export type WifiEvent = "connected" | "failed" | "lost" | "client";

/** The Wi-Fi radio: station, scan and the setup access point. The core decides when each is used. */
export interface WifiPort {
  /** The station MAC address as six bytes. */
  mac(): Uint8Array;
  /** The one listener for the radio's events. */
  listen(onEvent: (event: WifiEvent, detail?: string) => void): void;
  /** Scans; `done` receives the networks seen (possibly from a cache when a fresh scan is not possible). */
  scan(done: (networks: WifiNetwork[]) => void): void;
  /** Signal of the current station association in dBm; 0 when not associated. */
  rssi(): number;
  /** Joins as a station: these credentials (not saved until `save`), or the saved network without them. */
  join(credentials?: WifiCredentials): void;
  /** Leaves the station's network (no events follow). */
  disconnect(): void;
  /** Keeps the credentials of the network just joined, replacing any saved one; false when they could not be stored. */
  save(credentials: WifiCredentials): boolean;
  /** The saved network, or undefined when none (an unprovisioned plug). */
  saved(): SavedNetwork | undefined;
  /** Forgets the saved network (factory reset). */
  forget(): void;
  /** Opens the setup access point, WPA2 with this passphrase ("" = open), scanning still possible. */
  openAccessPoint(ssid: string, passphrase: string): void;
  closeAccessPoint(): void;
  /** The plug's IPv4 address on its access point, e.g. "192.168.4.1". */
  accessPointAddress(): string;
  /**
   * Whether a peer at `address` (a TCP client's or a datagram's source address) is a client of the
   * setup access point while it is up: reached over the access point, not the station's network.
   * False while the access point is down. A device answers from the access point's subnet (a
   * datagram's source can be forged, a TCP peer's cannot: the core trusts only TCP with anything
   * more than keeping the setup network up).
   */
  accessPointClient(address: string): boolean;
  /** The station's IPv4 address while joined, "" otherwise (the answer to discovery on UDP 20002 names it; absent: ""). */
  address?(): string;
}

/** One accepted TCP connection, as the core sees it. */
export interface StreamSocket {
  /**
   * Queue bytes for sending; the adapter sends them in order, as one write where it can. `bytes` is
   * only valid during the call (the core reuses its buffer): whatever the adapter keeps, it copies.
   */
  write(bytes: Uint8Array): void;
  /** Bytes written and not yet handed to the network stack (the adapter's own queue): what a client that does not read makes the plug hold. */
  unsent(): number;
  /**
   * Bytes the network stack takes now without the adapter queueing them (its send buffer's free
   * room; Infinity where the platform's own buffers are outside the JS heap, as on Node). The Kasa
   * server writes no more than this and resumes its answer when the handler is told `writable`.
   */
  room(): number;
  /**
   * Reads on what the network stack holds for this connection, now that the handler is `accepting`
   * again (adapters that leave unread bytes in the stack, where TCP's window holds the client back).
   */
  resume?(): void;
  /** Close after everything written has been sent. */
  close(): void;
  /** Close now, dropping whatever is unsent. */
  abort(): void;
  /**
   * The client's address, for the log (a verbose plug's request lines, the presence lock's
   * refusals): asked for only when a line needs it, so that no connection keeps it.
   */
  peer?(): string;
}

/** What the core gives back for each accepted connection. */
export interface StreamHandler {
  data(bytes: Uint8Array): void;
  /** The peer closed its side (FIN) or the connection broke. */
  end(): void;
  /** The socket has room again (after a write that used it up). */
  writable?(): void;
  /**
   * Whether it takes more bytes now (absent: always). An adapter that can leave received bytes in
   * the network stack reads no more while this is false, and reads on at the socket's `resume`.
   */
  accepting?(): boolean;
}

export interface TcpListenerPort {
  /** `accept` is told each new connection and its peer's IPv4 address (for WifiPort.accessPointClient). */
  listen(accept: (socket: StreamSocket, address: string) => StreamHandler): void;
  close(): void;
}

export interface DatagramPort {
  listen(receive: (bytes: Uint8Array, address: string, port: number) => void): void;
  /** Sends from the bound port (Kasa clients only accept answers from port 9999). */
  send(bytes: Uint8Array, address: string, port: number): void;
  close(): void;
}

/** Random bytes for secrets (the setup passphrase): a hardware or OS source, never a seeded PRNG. */
export interface RandomPort {
  (length: number): Uint8Array;
}

/**
 * The few primitives authenticated local control (KLAP, src/core/klap/) needs, on bytes. Each hash
 * digests the concatenation of its parts (two to four, so the core never copies them together) and
 * returns a new digest: 16 bytes for MD5, 20 for SHA-1, 32 for SHA-256. On a device: the SDK's
 * `crypt` Digest; on Node: `node:crypto`.
 */
export interface CryptoPort {
  md5(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array;
  sha1(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array;
  sha256(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, d?: Uint8Array): Uint8Array;
  /**
   * AES-128 in CBC mode, no padding (the core pads): encrypts (or decrypts) `data` in place with
   * the 16-byte `key` and `iv`. `data.length` is a multiple of 16; the core checks it before the call.
   */
  aes128Cbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): void;
  /**
   * An incremental SHA-256 (KLAP signs an answer it never holds whole): `write` its parts in order,
   * then `close` returns the digest (32 bytes). On a device: the SDK's Digest (write, close).
   */
  sha256Stream(): Sha256Stream;
  /**
   * An ECDSA P-256 check with SHA-256 of a message written in parts (a signed update is never held
   * whole): `write` its parts in order, then `verify` the signature. `publicKey` is 65 bytes,
   * uncompressed (0x04, x, y). On Node: node:crypto's streaming Verify; on a device: the SDK's
   * Digest and its ECDSA (modules/crypt/etc/ecdsa.js, which takes the digest).
   */
  p256Verifier(publicKey: Uint8Array): P256Verifier;
}

/** One SHA-256 being computed (CryptoPort.sha256Stream): `bytes` is only valid during `write`. */
export interface Sha256Stream {
  write(bytes: Uint8Array): void;
  close(): Uint8Array;
}

/**
 * The other firmware slot, as a signed update (src/core/update) fills it, and the bootloader's
 * confirmation of a new image. Shaped after ESP32's `embedded:update` (open, write, complete) with
 * the app rollback of ESP-IDF (a new image boots once on trial; restarted before it is confirmed,
 * the bootloader goes back to the previous one); on the host, two slot files (src/host/update.ts).
 * Nothing here restarts: the core restarts through the plug (its relay and settings saved first).
 */
export interface UpdatePort {
  /** The most bytes an image may have: the other slot's size. */
  readonly slotBytes: number;
  /** Starts writing an image of `length` bytes into the other slot (any unfinished one is dropped); false when it cannot. */
  begin(length: number): boolean;
  /** The image's next bytes, in order; `bytes` is only valid during the call. False when they could not be written. */
  write(bytes: Uint8Array): boolean;
  /** All `length` bytes are written and the image is verified: boot it at the next restart (on trial). False when it cannot be. */
  complete(): boolean;
  /** Drops what `begin` started: the slot is never booted. */
  abort(): void;
  /** The running image is on trial: booted once after an update and not confirmed yet. */
  pendingConfirmation(): boolean;
  /** Marks the running image good: no rollback at the next restart. */
  confirm(): void;
}

/** One ECDSA P-256 check under way (CryptoPort.p256Verifier): `bytes` is only valid during `write`. */
export interface P256Verifier {
  write(bytes: Uint8Array): void;
  /**
   * Whether `signature` (64 bytes: r then s, each 32 bytes big-endian, as IEEE P1363 and Web Crypto
   * write it) signs what was written, under the key. False for anything malformed (a key not on the
   * curve, a signature of another length, r or s out of range), never an exception.
   */
  verify(signature: Uint8Array): boolean;
}

/** Restarting the whole device (the process on the host). */
export interface RestartPort {
  restart(): void;
}

/** Where the core's few lines of log go (console, trace). Never receives credentials. */
export interface LogPort {
  (line: string): void;
}

// ---- energy metering chips (src/core/energy/meter) ----

/**
 * A UART's receive side (the CSE7766 only talks: 4800 baud, 8 data bits, even parity, 1 stop bit,
 * set up by the adapter: Moddable `embedded:io/serial`, a scripted source on the host).
 */
export interface SerialReceivePort {
  /** Starts delivery: `onBytes` receives whatever arrived, in order; the chunk is only valid during the call. */
  listen(onBytes: (bytes: Uint8Array) => void): void;
  /** Stops delivery (the adapter may close the UART). */
  close(): void;
}

/**
 * A counter of rising edges on one input (CF or CF1): `embedded:io/pulsecount` where the platform
 * has it (ESP32 PCNT), a digital-edge interrupt count otherwise (ESP8266). One rising edge per
 * period of the chip's output, whatever its duty cycle (50 % on the HLW8012, a 38 µs pulse on the BL0937).
 */
export interface PulseCountPort {
  /**
   * Edges since the previous call (the first call: since the port was opened). The adapter's own
   * counter must not wrap between two calls: the drivers call every HLW_WINDOW_MS (500 ms), and
   * even an ESP32 PCNT's 16 bits hold 65 kHz for that long.
   */
  read(): number;
}

/** One digital output (the HLW8012/BL0937 SEL pin). */
export interface DigitalOutPort {
  write(high: boolean): void;
}
