import { constants } from 'node:os';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}
errnoNames.set(95, 'ENOTSUP'); // Linux's EOPNOTSUPP == ENOTSUP; libblkio says ENOTSUP

/** The name of a positive or negative errno value, like `'EINVAL'`. */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/**
 * Every failure of the library. `errno` is negative, as in Node's system
 * errors; `code` is its name (`'EINVAL'`); the message says what was wrong.
 */
export class BlkioError extends Error {
  readonly errno: number;
  readonly code: string;

  constructor(message: string, errno: number) {
    super(message);
    this.name = 'BlkioError';
    this.errno = -Math.abs(errno);
    this.code = errnoName(errno);
  }
}

/** Throws a BlkioError for a bad argument (libblkio's EINVAL convention). */
export function invalidArgument(message: string): never {
  throw new BlkioError(message, constants.errno.EINVAL);
}
