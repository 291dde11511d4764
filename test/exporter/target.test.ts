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

    it.each([
      // [input, host, port, key]
      [
        'redis.railway.internal',
        'redis.railway.internal',
        6379,
        'redis://redis.railway.internal:6379',
      ],
      [
        'rediss://Redis-1.Railway.Internal:6380',
        'Redis-1.Railway.Internal',
        6380,
        'rediss://redis-1.railway.internal:6380',
      ],
      ['10.0.0.5:7000', '10.0.0.5', 7000, 'redis://10.0.0.5:7000'],
      ['rediss://10.0.0.5', '10.0.0.5', 6379, 'rediss://10.0.0.5:6379'],
      ['[::1]:7000', '::1', 7000, 'redis://[::1]:7000'],
      ['rediss://[::1]', '::1', 6379, 'rediss://[::1]:6379'],
      ['rediss://[FD12:3::5]:26379', 'fd12:3::5', 26379, 'rediss://[fd12:3::5]:26379'],
      // One spelling per address (the key lower-cased), so the pool and the allow-list see one target.
      ['rediss://[0:0:0:0:0:0:0:1]:6379', '::1', 6379, 'rediss://[::1]:6379'],
    ])(
      'takes %j: a DNS name, IPv4 or bracketed IPv6, with or without a port',
      (input, host, port, key) => {
        expect(parseTarget(input)).toEqual({
          scheme: key.startsWith('rediss') ? 'rediss' : 'redis',
          host,
          port,
          key,
        });
      },
    );
  });

  describe('unhappy', () => {
    it.each([
      ['', /empty/],
      ['http://x:1', /scheme "http" is not allowed/],
      ['redis://user:secret@x:1', /credentials in the target URL/],
      ['redis://x:1?password=a', /query string/],
      ['redis://x:1/3', /path/],
      ['redis://x:99999', /not a URL|port/],
      ['redis://bad_host!:1', /host "bad_host!" is not a DNS name or IP address/],
      // The client's host check (test/client/common/host.test.ts has the whole table).
      ['redis://1.2.3:6379', /host "1\.2\.3" is not an IPv4 address in dotted-quad form/],
      ['rediss://[fe80::1%eth0]:6379', /host "fe80::1%eth0" has a zone id/],
      // An IPv6 address without brackets cannot be split from its port: the message says how.
      ['::1:6379', /IPv6 address in brackets: rediss:\/\/\[::1\]:6379/],
      ['rediss://fd12::5:6379', /IPv6 address in brackets/],
      ['rediss://[not-v6]:6379', /not a URL/],
      ['rediss://[::1]:70000', /not a URL|port/],
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

  describe('hostnames and IPv6', () => {
    it('matches bracketed IPv6 patterns as written, however the address is spelled', () => {
      const list = new AllowList(['rediss://[::1]:*', 'rediss://[0:0:0:0:0:0:0:2]:6379']);
      expect(list.allows(parseTarget('rediss://[::1]:6379'))).toBe(true);
      expect(list.allows(parseTarget('rediss://[0::1]:26379'))).toBe(true);
      expect(list.allows(parseTarget('rediss://[::2]:6379'))).toBe(true);
      expect(list.allows(parseTarget('redis://[::1]:6379'))).toBe(false);
      expect(list.allows(parseTarget('rediss://[::3]:6379'))).toBe(false);
      expect(list.allows(parseTarget('rediss://127.0.0.1:6379'))).toBe(false);
    });

    it('* stays within one IPv6 group; ** spans a prefix', () => {
      const one = new AllowList(['rediss://[fd12:*::5]:6379']);
      expect(one.allows(parseTarget('rediss://[fd12:3::5]:6379'))).toBe(true);
      expect(one.allows(parseTarget('rediss://[fd12:3:4::5]:6379'))).toBe(false);
      const prefix = new AllowList(['rediss://[fd12:**]:6379']);
      expect(prefix.allows(parseTarget('rediss://[fd12:3:4::5]:6379'))).toBe(true);
      expect(prefix.allows(parseTarget('rediss://[fd13::5]:6379'))).toBe(false);
      expect(prefix.allows(parseTarget('rediss://[fd12::5]:6380'))).toBe(false);
    });

    it('matches host names by their text, one label per *, case-insensitively', () => {
      const list = new AllowList(['rediss://*.railway.internal:6379', 'REDIS.example.COM:*']);
      expect(list.allows(parseTarget('rediss://redis-1.railway.internal:6379'))).toBe(true);
      expect(list.allows(parseTarget('rediss://Redis-1.RAILWAY.internal:6379'))).toBe(true);
      expect(list.allows(parseTarget('redis://redis.example.com:7000'))).toBe(true);
      // One label only, no other suffix, no other port.
      expect(list.allows(parseTarget('rediss://a.b.railway.internal:6379'))).toBe(false);
      expect(list.allows(parseTarget('rediss://x.railway.internal.evil.com:6379'))).toBe(false);
      expect(list.allows(parseTarget('rediss://redis.railway.internal:6380'))).toBe(false);
      // The text decides, not what the name resolves to.
      expect(list.allows(parseTarget('rediss://[fd12::5]:6379'))).toBe(false);
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
