import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  EVERY_ARGUMENT_KEY,
  FIRST_ARGUMENT_KEY,
} from '../../../client/instrumentation/command-keys.js';
import {
  commandQueryText,
  keyShape,
  sanitizeQueryText,
} from '../../../client/instrumentation/query-text.js';

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

describe('query text from an ioredis command', () => {
  it('knows the key positions of its fast-path commands exactly as ioredis does', () => {
    const argumentLists = [['k:1'], ['k:1', 'a'], ['k:1', 'a', 'b'], ['k:1', 'a', 'b', 'c', 'd']];
    for (const name of FIRST_ARGUMENT_KEY) {
      for (const args of argumentLists) {
        expect([name, new Command(name, args).getKeys()]).toEqual([name, ['k:1']]);
      }
    }
    for (const name of EVERY_ARGUMENT_KEY) {
      for (const args of argumentLists) {
        expect([name, new Command(name, args).getKeys()]).toEqual([name, args]);
      }
    }
  });

  it('writes the same text as sanitizeQueryText with the keys ioredis reports', () => {
    const commands = [
      new Command('get', ['session:abc']),
      new Command('set', ['pin:u1', '1234', 'EX', 60]),
      new Command('EXPIRE', ['cache:k1', 60]),
      new Command('hset', ['user:1', 'email', 'a@b.c']),
      new Command('del', ['a:1', 'b:2', 'c']),
      new Command('mget', ['a:1', 'b:2']),
      new Command('eval', ["return 'x'", 1, 'k:v', 'secret']),
      new Command('zunionstore', ['out:1', 2, 'in:1', 'in:2']),
      new Command('wait', [1, 1000]),
    ];
    for (const command of commands) {
      expect(commandQueryText(command)).toBe(
        sanitizeQueryText(command.name, command.args, command.getKeys()),
      );
    }
  });
});

describe('query text, unhappy path', () => {
  it('does not show a value that equals the key as a key shape', () => {
    expect(commandQueryText(new Command('set', ['app:k', 'app:k']))).toBe('SET app:<redacted> ?');
  });

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
