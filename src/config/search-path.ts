/**
 * searchPath is the daemon's PATH, where helper programs that have no configured path are looked for (apparmor_parser):
 * the environment the operator or the unit file gave fune.
 */
export function searchPath(): string {
  return process.env.PATH ?? '';
}
