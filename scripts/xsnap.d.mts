// Types of scripts/xsnap.mjs, for the XS engine check.

export interface XsnapState {
  packageDir: string;
  /** "lin" or "mac"; undefined where xsnap does not build. */
  platform: string | undefined;
  installed: boolean;
  worker: string;
  built: boolean;
}

export const INSTALL_HINT: string;
export function xsnapState(packageDir?: string): XsnapState;
export function whyNotBuildable(state: XsnapState, path?: string): string | undefined;
export function ensureXsnap(options?: { state?: XsnapState; path?: string; say?: (line: string) => void }): Promise<XsnapState>;
