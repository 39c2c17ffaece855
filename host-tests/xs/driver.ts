// What the xsnap driver (host-tests/xs/run-xsnap.mjs) calls in the XS worker: the globals each XS
// entry (entry.ts: the plug; klap-entry.ts: KLAP over its vectors) installs with `serveDriver`.

import { utf8Encode } from "../../src/core/protocol/wire/utf8.js";

/**
 * What xsnap's worker reads after handleCommand returns and the promise jobs have run: when the
 * returned object has a `result` property, that ArrayBuffer is the reply (xsnap-worker.c; a returned
 * Promise itself would be sent back as an empty reply).
 */
export interface PendingReply {
  result?: ArrayBuffer;
}

const xs = globalThis as typeof globalThis & {
  handleCommand?: (message: ArrayBuffer) => PendingReply;
  startPlug?: (model: string) => void;
  /** Why the last command had no reply (an exception's text), as UTF-8 bytes for `evaluate`. */
  lastError?: () => ArrayBuffer;
  /** True when this code runs as strict code (as modules do on Node). */
  strictCode?: boolean;
};

/** The bytes as an ArrayBuffer of their own (what the worker sends back). */
export function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** An exception's text for lastError: name, message and stack. */
export function failureText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
}

/** Installs the driver's globals: a command's handler, the plug's start, and why the last command had no reply. */
export function serveDriver(handleCommand: (message: ArrayBuffer) => PendingReply, startPlug: (model: string) => void, lastError: () => string): void {
  xs.handleCommand = handleCommand;
  xs.startPlug = startPlug;
  xs.lastError = () => arrayBufferOf(utf8Encode(lastError()));
  xs.strictCode = (function (this: unknown) {
    return this === undefined;
  })();
}
