import { describe, expect, it } from 'vitest';
import { parseInstanceEvent, parseSwitchMaster } from '../../../client/common/sentinel-messages.js';

describe('parseSwitchMaster', () => {
  describe('happy', () => {
    it('reads the master name and the old and new addresses', () => {
      expect(parseSwitchMaster('redscope 10.0.0.1 6379 10.0.0.2 6380')).toEqual({
        name: 'redscope',
        from: { host: '10.0.0.1', port: 6379 },
        to: { host: '10.0.0.2', port: 6380 },
      });
    });

    it('reads IPv6 addresses, which Sentinel writes without brackets', () => {
      expect(parseSwitchMaster('redscope 2001:db8::1 6379 ::1 6380')).toEqual({
        name: 'redscope',
        from: { host: '2001:db8::1', port: 6379 },
        to: { host: '::1', port: 6380 },
      });
    });

    it('ignores blanks around and between the words', () => {
      expect(parseSwitchMaster('  redscope  10.0.0.1 6379\t10.0.0.2 6379\n')?.to).toEqual({
        host: '10.0.0.2',
        port: 6379,
      });
    });
  });

  describe('unhappy', () => {
    it.each([
      ['an empty message', ''],
      ['blanks only', '   '],
      ['the name alone', 'redscope'],
      ['no new address', 'redscope 10.0.0.1 6379'],
      ['no new port', 'redscope 10.0.0.1 6379 10.0.0.2'],
      ['a word too many', 'redscope 10.0.0.1 6379 10.0.0.2 6379 extra'],
      ['a port that is not a number', 'redscope 10.0.0.1 6379 10.0.0.2 http'],
      ['port 0', 'redscope 10.0.0.1 0 10.0.0.2 6379'],
      ['a port past 65535', 'redscope 10.0.0.1 6379 10.0.0.2 65536'],
      ['a fractional port', 'redscope 10.0.0.1 6379 10.0.0.2 63.79'],
    ])('refuses %s', (_shape, message) => {
      expect(parseSwitchMaster(message)).toBeUndefined();
    });
  });
});

describe('parseInstanceEvent', () => {
  describe('happy', () => {
    it('names a master event after the master itself, extra words after the port ignored', () => {
      expect(parseInstanceEvent('master redscope 10.0.0.1 6379 #quorum 2/2')).toEqual({
        type: 'master',
        name: 'redscope',
        address: { host: '10.0.0.1', port: 6379 },
        masterName: 'redscope',
        masterAddress: { host: '10.0.0.1', port: 6379 },
      });
    });

    it('names a replica or Sentinel event after the master that follows the @', () => {
      const replica = parseInstanceEvent(
        'slave 10.0.0.2:6379 10.0.0.2 6379 @ redscope 10.0.0.1 6379',
      );
      expect(replica).toEqual({
        type: 'slave',
        name: '10.0.0.2:6379',
        address: { host: '10.0.0.2', port: 6379 },
        masterName: 'redscope',
        masterAddress: { host: '10.0.0.1', port: 6379 },
      });
      const sentinel = parseInstanceEvent('sentinel 0f3c ::1 26379 @ redscope ::1 6379');
      expect(sentinel?.address).toEqual({ host: '::1', port: 26379 });
      expect(sentinel?.masterName).toBe('redscope');
    });
  });

  describe('unhappy', () => {
    it('refuses an empty message and a replica event that names no master', () => {
      expect(parseInstanceEvent('')).toBeUndefined();
      expect(parseInstanceEvent('slave')).toBeUndefined();
      expect(parseInstanceEvent('slave 10.0.0.3:6379 10.0.0.3 6379')).toBeUndefined();
      expect(parseInstanceEvent('slave 10.0.0.3:6379 10.0.0.3 6379 @')).toBeUndefined();
    });

    it('keeps the master of an event whose address is unreadable, without an address', () => {
      expect(parseInstanceEvent('master redscope 10.0.0.1 not-a-port')).toEqual({
        type: 'master',
        name: 'redscope',
        address: undefined,
        masterName: 'redscope',
      });
      expect(parseInstanceEvent('master redscope')?.address).toBeUndefined();
    });
  });
});
