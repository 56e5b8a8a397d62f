import { describe, expect, it } from 'vitest';
import { CpusetError, formatCpuset, parseCpuset } from '../../../src/domain/cpuset.js';

describe('parseCpuset (kubelet rules)', () => {
  it.each([
    ['', []],
    ['0', [0]],
    ['0-3', [0, 1, 2, 3]],
    ['0-3,5', [0, 1, 2, 3, 5]],
    ['3-3', [3]],
    ['007', [7]],
    ['+3', [3]],
    ['+1-3', [1, 2, 3]],
    ['1-+3', [1, 2, 3]],
    ['1,1', [1]],
    ['0-2,1-3', [0, 1, 2, 3]],
  ])('accepts %j', (text, ids) => {
    expect(parseCpuset(text)).toEqual(ids);
  });

  it.each(['-1', '-', '1-', '-1-2', '+', '+-1', '1--3', '10-6', '1-3-5', ' 1', '1 ', '1,', ',1', '1,,2', '0x1', '1_0', '١', '9223372036854775808', '0-99999999999'])(
    'refuses %j',
    (text) => {
      expect(() => parseCpuset(text)).toThrow(CpusetError);
    },
  );

  it('says which range is backwards', () => {
    expect(() => parseCpuset('10-6')).toThrow(/invalid range "10-6" \(10 > 6\)/);
    expect(() => parseCpuset('1--3')).toThrow(/1 > -3/);
  });

  it('formats canonically', () => {
    expect(formatCpuset([5, 0, 1, 2, 3, 3, 9, 10])).toBe('0-3,5,9-10');
    expect(formatCpuset([])).toBe('');
  });
});
