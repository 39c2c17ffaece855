// ECMA-419 `embedded:update` and `embedded:storage/flash` (ESP32) for `npm run typecheck`: the npm
// typings have neither; the SDK's own ($MODDABLE/typings/embedded/update.d.ts, storage/flash.d.ts),
// which mcconfig's build resolves them to, declare this and more (the same shapes, 8.2.3).

declare module "embedded:storage/flash" {
  export interface FlashStatus {
    size: number;
    blockLength: number;
    blocks: number;
  }
  export class Flash {
    close(): void;
    status(): FlashStatus;
  }
  const FlashStorage: {
    /** path: a data partition's label, or "xs", "running", "nextota" (the OTA slot that is not running). */
    open(options: { path: string; mode?: "r" | "r+" }): Flash;
  };
  export default FlashStorage;
}

declare module "embedded:update" {
  import type { Flash } from "embedded:storage/flash";
  export interface Updater {
    close(): void;
    complete(): void;
    write(bytes: ArrayBufferLike | ArrayBufferView): void;
  }
  const Update: {
    open(options: { partition: Flash; mode?: "a" | "w"; byteLength?: number }): Updater;
  };
  export default Update;
}
