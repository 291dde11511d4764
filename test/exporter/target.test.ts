import { describe, expect, it } from 'vitest';
import { AllowList } from '../../exporter/allow-list.js';
import { InvalidTargetError, parseTarget } from '../../exporter/target.js';

describe('parsing a scrape target', () => {
  describe('happy', () => {
    it('normalises redis://, rediss:// and bare host:port to scheme://host:port', () => {
      expect(parseTarget('redis://Cache.Internal:6380').key).toBe('redis://cache.internal:6380');
      expect(parseTarget('rediss://10.0.0.1').key).toBe('rediss://10.0.0.1:6379');
      expect(parseTarget('127.0.0.1:7000')).toMatchObject({
        scheme: 'redis',
        host: '127.0.0.1',
        port: 7000,
      });
      expect(parseTarget('redis://[::1]:6379').host).toBe('::1');
    });
  });

  describe('unhappy', () => {
    it.each([
      ['', /empty/],
      ['http://x:1', /scheme "http" is not allowed/],
      ['redis://user:secret@x:1', /credentials in the target URL/],
      ['redis://x:1?password=a', /query string/],
      ['redis://x:1/3', /path/],
      ['redis://x:99999', /not a URL|port/],
      ['redis://bad_host!:1', /not a URL|not a valid host/],
    ])('refuses %j naming the problem', (input, message) => {
      expect(() => parseTarget(input)).toThrow(InvalidTargetError);
      expect(() => parseTarget(input)).toThrow(message);
    });

    it('never repeats a password from the URL in its message', () => {
      expect(() => parseTarget('redis://u:hunter2@x:1')).toThrow(/^(?!.*hunter2)/);
    });

    it('never repeats a password that breaks the URL apart (an unencoded /)', () => {
      expect(() => parseTarget('redis://u:hun/ter2@x:1')).toThrow(/is not a URL/);
      expect(() => parseTarget('redis://u:hun/ter2@x:1')).toThrow(/^(?!.*(hun|ter2))/);
    });
  });
});

describe('the /scrape allow-list', () => {
  describe('happy', () => {
    it('matches globs on scheme://host:port, * staying within one label, octet or port', () => {
      const list = new AllowList(['redis://10.0.0.*:6379', 'rediss://*.cache.internal:*']);
      expect(list.allows(parseTarget('redis://10.0.0.7:6379'))).toBe(true);
      expect(list.allows(parseTarget('rediss://a.cache.internal:6390'))).toBe(true);
    });
  });

  describe('unhappy', () => {
    it('refuses another port, another scheme, or a host that only starts like an allowed one', () => {
      const list = new AllowList(['redis://10.0.0.*:6379']);
      expect(list.allows(parseTarget('redis://10.0.0.7:6380'))).toBe(false);
      expect(list.allows(parseTarget('rediss://10.0.0.7:6379'))).toBe(false);
      expect(list.allows(parseTarget('redis://10.0.0.7.evil.com:6379'))).toBe(false);
      expect(new AllowList([]).allows(parseTarget('redis://127.0.0.1:6379'))).toBe(false);
    });
  });
});
