// Types of scripts/build-settings.mjs, for its test.

export function publicKeyHex(file: string): string;
export function buildSettings(target: string, root: string): { args: string[]; notes: string[] };
