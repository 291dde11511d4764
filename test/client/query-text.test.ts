import { describe, expect, it } from 'vitest';
import { keyShape, sanitizeQueryText } from '../../client/query-text.js';

describe('query text, happy path', () => {
  it('keeps namespace segments of a key and redacts the rest', () => {
    expect(keyShape('app:session:9f8e7d6c')).toBe('app:session:<redacted>');
    expect(keyShape('cache:user-profile:42')).toBe('cache:user-profile:<redacted>');
    expect(keyShape('counter')).toBe('<redacted>');
  });

  it('shows numbers and option keywords where the command allows arguments', () => {
    expect(sanitizeQueryText('expire', ['cache:k1', 60], ['cache:k1'])).toBe(
      'EXPIRE cache:<redacted> 60',
    );
    expect(sanitizeQueryText('wait', [1, 1000], [])).toBe('WAIT 1 1000');
    expect(sanitizeQueryText('get', ['session:abc'], ['session:abc'])).toBe(
      'GET session:<redacted>',
    );
  });
});

describe('query text, unhappy path', () => {
  it('never shows a value, even a numeric one', () => {
    expect(sanitizeQueryText('set', ['pin:u1', '1234', 'EX', 60], ['pin:u1'])).toBe(
      'SET pin:<redacted> ? ? ?',
    );
    expect(sanitizeQueryText('hset', ['user:1', 'email', 'a@b.c'], ['user:1'])).toBe(
      'HSET user:<redacted> ? ?',
    );
  });

  it('hides every argument of AUTH, HELLO, EVAL and unknown commands', () => {
    expect(sanitizeQueryText('auth', ['admin', 's3cret'], [])).toBe('AUTH ? ?');
    expect(sanitizeQueryText('hello', ['3', 'AUTH', 'admin', 's3cret'], [])).toBe('HELLO ? ? ? ?');
    expect(sanitizeQueryText('eval', ["return 'x'", 1, 'k:v'], ['k:v'])).toBe(
      'EVAL ? ? k:<redacted>',
    );
    expect(sanitizeQueryText('my.module', ['a', 2], [])).toBe('MY.MODULE ? ?');
  });

  it('does not keep a random-looking segment as a namespace', () => {
    expect(keyShape('session:abc123:meta')).toBe('session:<redacted>');
    expect(keyShape('user:alice@example.com:profile')).toBe('user:<redacted>');
  });
});
