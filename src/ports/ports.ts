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

/** The push button, already debounced by the adapter or not: the core debounces again. */
export interface ButtonPort {
  /** Registers the one listener; `pressed` is true on press, false on release. */
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

/** One-shot and repeating timers. */
export interface TimerPort {
  after(ms: number, callback: () => void): TimerHandle;
  every(ms: number, callback: () => void): TimerHandle;
  cancel(handle: TimerHandle): void;
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

export interface WifiStationInfo {
  ssid: string;
  keyType: WifiKeyType;
  /** dBm; 0 when not associated. */
  rssi: number;
}

export interface WifiCredentials {
  ssid: string;
  /** Never logged, echoed or returned by anything in the core. */
  password: string;
  keyType: WifiKeyType;
}

/** The Wi-Fi radio. */
export interface WifiPort {
  /** The station MAC address as six bytes. */
  mac(): Uint8Array;
  /** Scans; `done` receives the networks seen (possibly from a cache when a fresh scan is not possible). */
  scan(done: (networks: WifiNetwork[]) => void): void;
  /** The network the station is on (or was last told to join). */
  station(): WifiStationInfo;
  /** Leave whatever mode the radio is in and join this network as a station. */
  join(credentials: WifiCredentials): void;
  /** Forgets the stored station credentials (factory reset). */
  forget(): void;
}

/** One accepted TCP connection, as the core sees it. */
export interface StreamSocket {
  /** Queue bytes for sending; the adapter sends them in order, as one write where it can. */
  write(bytes: Uint8Array): void;
  /** Close after everything written has been sent. */
  close(): void;
}

/** What the core gives back for each accepted connection. */
export interface StreamHandler {
  data(bytes: Uint8Array): void;
  /** The peer closed its side (FIN) or the connection broke. */
  end(): void;
}

export interface TcpListenerPort {
  listen(accept: (socket: StreamSocket) => StreamHandler): void;
  close(): void;
}

export interface DatagramPort {
  listen(receive: (bytes: Uint8Array, address: string, port: number) => void): void;
  /** Sends from the bound port (Kasa clients only accept answers from port 9999). */
  send(bytes: Uint8Array, address: string, port: number): void;
  close(): void;
}

/** Restarting the whole device (the process on the host). */
export interface RestartPort {
  restart(): void;
}

/** Where the core's few lines of log go (console, trace). Never receives credentials. */
export interface LogPort {
  (line: string): void;
}
