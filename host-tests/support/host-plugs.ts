// The host plugs a test file starts and the state directories it makes: stopped and removed after
// each test (or the file), so no plug keeps a port and no directory is left in the temp dir.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VirtualPlug } from "../../src/host/virtual-plug.js";

export class HostPlugs {
  /** Plugs to stop: a test pushes each one it starts. */
  readonly plugs: VirtualPlug[] = [];
  private readonly dirs: string[] = [];

  constructor(private readonly prefix: string) {}

  /** A new empty state directory, removed by stopAll. */
  stateDir(): string {
    const d = mkdtempSync(join(tmpdir(), this.prefix));
    this.dirs.push(d);
    return d;
  }

  /** Stops every plug pushed and removes every directory made. */
  stopAll(): void {
    for (const p of this.plugs.splice(0)) p.stop();
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
