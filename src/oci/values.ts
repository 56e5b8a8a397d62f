import { invalidArgument } from '../errors/index.js';

/**
 * int64 reads a CRI int64 (carried as a decimal string; "" and absent mean 0) as a JS number, refusing what is
 * not an integer or does not fit exactly in a double. `field` names the value in the error message.
 */
export function int64(value: string | number | undefined | null, field: string): number {
  if (value === undefined || value === null || value === '') return 0;
  const text = String(value);
  if (!/^-?[0-9]+$/.test(text)) throw invalidArgument(`${field}: ${JSON.stringify(text)} is not an integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${field}: ${text} is out of range`);
  return n;
}

/** nonNegative is int64 for fields that may not be negative. */
export function nonNegative(value: string | number | undefined | null, field: string): number {
  const n = int64(value, field);
  if (n < 0) throw invalidArgument(`${field}: ${n} may not be negative`);
  return n;
}

/** envValue turns a CRI KeyValue value (a string, or bytes in some generated shapes) into a string. */
export function envValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return '';
}

/** uniq keeps the first occurrence of each value, in order. */
export function uniq<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}
