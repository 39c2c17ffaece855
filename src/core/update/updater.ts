// Updates as the plug runs them: one signed image received at a time (image.ts checks it while it
// streams into the other slot), the restart into an accepted image, and the new image's
// confirmation (confirm.ts). The owner's page hands it an upload (src/core/owner); nothing else
// reaches it. Without an update slot (an ESP8266, the simulator) or without the owner's public key
// built in, every upload is refused with the reason, and the running firmware stays what it is.
//
// The relay across an update: both restarts an update causes (into the accepted image, and the
// rollback of one that did not confirm itself) leave KEY.keepRelay in the settings, so the firmware
// that boots next puts the relay back as it was, whatever the power-on policy says (device.ts): an
// update does not switch the load off (or on). The relay's pending write reaches flash first (the
// plug's restart saves it).

import type { CryptoPort, LogPort, TimerHandle, TimerPort, TimerTarget, UpdatePort } from "../../ports/ports.js";
import type { PlugRestart } from "../protocol/context.js";
import type { Settings } from "../storage/settings.js";
import { KEY } from "../storage/settings.js";
import { UPDATE_RESTART_DELAY_MS } from "../timing.js";
import { UpdateConfirmation } from "./confirm.js";
import { IMAGE_HEADER_BYTES, IMAGE_SIGNATURE_BYTES, UPDATE_KEY_BYTES, UPDATE_REFUSALS, UpdateReceiver, type UpdateStatus } from "./image.js";

export interface UpdaterPorts {
  /** The other firmware slot; absent on a platform that cannot update itself over the network. */
  update?: UpdatePort;
  crypto?: CryptoPort;
  timers: TimerPort;
  /** The plug's log. */
  log: LogPort;
  settings: Settings;
  /** The plug's restart: what waits for flash is written first. */
  restart: PlugRestart;
}

/** Why an upload is refused before a byte of it is read (the page shows it). */
export const UPDATE_UNAVAILABLE = Object.freeze({
  platform: "this board cannot update itself over the network (flash it over serial)",
  key: "no update key was built into this firmware (npm run keygen, then build again)",
  trial: "the running firmware is on trial: it must confirm itself before another update",
  busy: "an update is already being received",
  restarting: "the plug is restarting into the new firmware",
});

/** What the owner's page shows: whether an update can be sent, one is arriving, or the plug restarts into one. */
export type UpdaterState = "off" | "ready" | "receiving" | "trial" | "restarting";

export class Updater implements TimerTarget {
  /** The last update's outcome since boot, for the owner's page ("" when none). */
  last = "";
  private receiver: UpdateReceiver | null = null;
  private restartTimer: TimerHandle | undefined = undefined;
  private readonly confirmation: UpdateConfirmation | undefined;

  constructor(
    private readonly ports: UpdaterPorts,
    /** The owner's public key (65 bytes, uncompressed P-256), built in; undefined: no updates. */
    private readonly key: Uint8Array | undefined,
    /** The running firmware's version (the build's, or the one its signed header named). */
    readonly version: string,
    /** How long a new image has to confirm itself (UPDATE_CONFIRM_MS unless a test shortens it). */
    confirmMs?: number,
  ) {
    const update = ports.update;
    this.confirmation = update === undefined ? undefined : new UpdateConfirmation(update, ports.timers, this, ports.log, confirmMs);
  }

  /** Why no upload can start now, or "" when one can. */
  unavailable(): string {
    const update = this.ports.update;
    if (update === undefined || this.ports.crypto === undefined) return UPDATE_UNAVAILABLE.platform;
    if (this.key === undefined || this.key.length !== UPDATE_KEY_BYTES) return UPDATE_UNAVAILABLE.key;
    if (this.restartTimer !== undefined) return UPDATE_UNAVAILABLE.restarting;
    if (this.receiver !== null) return UPDATE_UNAVAILABLE.busy;
    if (update.pendingConfirmation()) return UPDATE_UNAVAILABLE.trial;
    return "";
  }

  state(): UpdaterState {
    if (this.restartTimer !== undefined) return "restarting";
    if (this.receiver !== null) return "receiving";
    if (this.ports.update?.pendingConfirmation()) return "trial";
    return this.unavailable() === "" ? "ready" : "off";
  }

  /**
   * An upload of `length` bytes (the signed image: header, image, signature) begins: its receiver,
   * or why it is refused. Whoever gets a receiver writes the bytes into it as they arrive, then
   * calls `finish` (or `cancel` if the stream broke).
   */
  receive(length: number): UpdateReceiver | string {
    const why = this.unavailable();
    if (why !== "") return why;
    if (!(length > IMAGE_HEADER_BYTES + IMAGE_SIGNATURE_BYTES) || length - IMAGE_HEADER_BYTES - IMAGE_SIGNATURE_BYTES > this.ports.update!.slotBytes) {
      return UPDATE_REFUSALS.size;
    }
    this.receiver = new UpdateReceiver(this.ports.update!, this.ports.crypto!, this.key!);
    return this.receiver;
  }

  /** The upload's bytes are all there: accepted (the plug restarts into it shortly), or refused (the slot dropped). */
  finish(receiver: UpdateReceiver): UpdateStatus {
    const status = receiver.end();
    if (receiver !== this.receiver) return status;
    this.receiver = null;
    if (status === "accepted") {
      this.last = `firmware ${receiver.version} accepted`;
      this.ports.log(`${this.last}: restarting into it in ${UPDATE_RESTART_DELAY_MS / 1000} s`);
      this.restartTimer = this.ports.timers.after(UPDATE_RESTART_DELAY_MS, this);
    } else {
      this.refused(status);
    }
    return status;
  }

  /** The upload broke off: nothing of it is ever booted. */
  cancel(receiver: UpdateReceiver): void {
    const status = receiver.cancel();
    if (receiver !== this.receiver) return;
    this.receiver = null;
    this.refused(status);
  }

  /** At boot: a new image on trial starts its confirmation clock. */
  start(): void {
    this.confirmation?.start();
  }

  /** The plug stops: an upload under way is dropped, no restart from here. */
  stop(): void {
    if (this.receiver !== null) this.cancel(this.receiver);
    this.ports.timers.cancel(this.restartTimer);
    this.restartTimer = undefined;
    this.confirmation?.stop();
  }

  /** The station joined its network (a sign for the confirmation). */
  joined(): void {
    this.confirmation?.joined();
  }

  /** A client's request was answered (a sign for the confirmation). */
  served(): void {
    this.confirmation?.served();
  }

  /** The restart into an accepted image, or the rollback's: the relay comes back as it is now. */
  restart(): void {
    this.ports.timers.cancel(this.restartTimer);
    this.restartTimer = undefined;
    this.ports.settings.put(KEY.keepRelay, 1);
    this.ports.restart.restart();
  }

  /** The delay after an accepted upload (its answer written): restart. */
  fired(): void {
    this.restart();
  }

  private refused(status: UpdateStatus): void {
    if (status === "receiving" || status === "accepted") return;
    this.last = `update refused: ${UPDATE_REFUSALS[status]}`;
    this.ports.log(this.last);
  }
}
