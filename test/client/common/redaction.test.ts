import { describe, expect, it } from 'vitest';
import { REDACTED, redactUrlCredentials } from '../../../client/common/redaction.js';

describe('redactUrlCredentials', () => {
  describe('happy', () => {
    it('replaces the password and keeps the user, host and port', () => {
      expect(redactUrlCredentials('connect to redis://app:s3cret@cache:6379 failed')).toBe(
        `connect to redis://app:${REDACTED}@cache:6379 failed`,
      );
    });

    it('replaces a password given without a user, and a userinfo without a colon', () => {
      expect(redactUrlCredentials('rediss://:s3cret@cache')).toBe(`rediss://:${REDACTED}@cache`);
      expect(redactUrlCredentials('redis://s3cret@cache')).toBe(`redis://${REDACTED}@cache`);
    });

    it('redacts every URL in the text', () => {
      const text = 'redis://a:one@h1:1 then rediss://b:two@h2:2';
      expect(redactUrlCredentials(text)).toBe(
        `redis://a:${REDACTED}@h1:1 then rediss://b:${REDACTED}@h2:2`,
      );
    });

    it('leaves text without credentials as it is', () => {
      for (const text of ['redis://cache:6379/0', 'ECONNREFUSED 127.0.0.1:6379', '']) {
        expect(redactUrlCredentials(text)).toBe(text);
      }
    });
  });

  describe('unhappy', () => {
    it('hides all of a hand-written password that holds an @ or a /', () => {
      expect(redactUrlCredentials('redis://u:p@ss@h:1')).toBe(`redis://u:${REDACTED}@h:1`);
      const slashed = redactUrlCredentials('"redis://:pa/ss@h:1" is not a URL');
      expect(slashed).toBe(`"redis://:${REDACTED}@h:1" is not a URL`);
      expect(slashed).not.toContain('ss');
    });
  });
});
