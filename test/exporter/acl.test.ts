import { describe, expect, it } from 'vitest';
import { aclGlob, exactKeyPattern, optInAclRules } from '../../exporter/acl.js';
import { optInConfig } from '../../exporter/opt-in-config.js';

const optIn = (keyChecks: Record<string, unknown>) =>
  optInConfig(
    { key_checks: keyChecks },
    (key) => key,
    () => '',
  );

describe("the opt-in collectors' ACL rules", () => {
  describe('happy', () => {
    it('match a configured key alone, its glob characters escaped', () => {
      expect(exactKeyPattern('a*b?[c]\\d')).toBe('a\\*b\\?\\[c\\]\\\\d');
    });

    it('grant SELECT when a key collector reads another database, or key groups run', () => {
      expect(optInAclRules(optIn({ keys: ['k:*'], count_keys: ['db0=c:*'] }))).not.toContain(
        '+select',
      );
      for (const checks of [
        { keys: ['db1=k:*'] },
        { single_keys: ['db3=k'] },
        { streams: ['db1=s:*'] },
        { single_streams: ['db2=s'] },
        { count_keys: ['db1=c:*'] },
        { key_groups: ['^(%a+):'] },
      ]) {
        expect(optInAclRules(optIn(checks)), JSON.stringify(checks)).toContain('+select');
      }
    });
  });

  describe('unhappy', () => {
    it('write whitespace in a key or pattern as ? (Redis splits ACL rules at it, escaped or not)', () => {
      expect(exactKeyPattern('k:with space')).toBe('k:with?space');
      expect(exactKeyPattern('tab\there\nnewline')).toBe('tab?here?newline');
      expect(aclGlob('queue:* wait')).toBe('queue:*?wait');
      expect(aclGlob('queue:\\ wait')).toBe('queue:?wait');
      // Other escapes stay as they are.
      expect(aclGlob('a\\*b\\\\ c')).toBe('a\\*b\\\\?c');
      const rules = optInAclRules(optIn({ single_keys: ['my key'], keys: ['job *'] }));
      expect(rules.join(' ')).toContain('%R~job?* %R~my?key');
      for (const rule of rules) {
        // Inside a selector, each rule is one word.
        for (const word of rule.replace(/^\(|\)$/g, '').split(' ')) expect(word).not.toBe('');
      }
    });
  });
});
