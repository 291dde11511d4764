import { describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { MissingBinaryError } from '../../stack/errors.js';

describe('requireBinary', () => {
  it('finds a binary on PATH', () => {
    expect(requireBinary('openssl')).toMatch(/\/openssl$/);
  });

  it('names the apt-get command when the binary is missing', () => {
    const attempt = () => requireBinary('redis-sentinel', '/nonexistent');
    expect(attempt).toThrow(MissingBinaryError);
    expect(attempt).toThrow(/apt-get install -y redis-sentinel/);
  });
});
