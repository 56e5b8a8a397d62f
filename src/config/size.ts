/** UNITS are the size suffixes accepted: decimal (kB = 1000) and binary (KiB or Ki = 1024), with B for bytes. */
const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  Ki: 1024,
  KiB: 1024,
  Mi: 1024 ** 2,
  MiB: 1024 ** 2,
  Gi: 1024 ** 3,
  GiB: 1024 ** 3,
  Ti: 1024 ** 4,
  TiB: 1024 ** 4,
};

/**
 * parseSize reads a byte size: a whole number of bytes, or a number with a unit ("512MiB", "1.5GiB", "20GB",
 * "10Gi"), rounded down to whole bytes; undefined when the value is not one. A bare K/M/G is refused: it is
 * unclear whether it means 1000 or 1024.
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  const unit = m ? UNITS[m[2]!] : undefined;
  if (!m || unit === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}
