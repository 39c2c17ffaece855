/** `length` (0-256) random bytes from the OS (/dev/urandom): the simulator's RandomPort. Throws when it cannot read them. */
export declare function randomBytes(length: number): Uint8Array;
