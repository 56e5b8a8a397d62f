import { randomBytes } from 'node:crypto';

/** IdGenerator makes the 64-hex-digit ids of sandboxes, containers and exec sessions. */
export interface IdGenerator {
  newId(): string;
}

/** randomIds draws ids from the kernel's random source. */
export const randomIds: IdGenerator = { newId: () => randomBytes(32).toString('hex') };
