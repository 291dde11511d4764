import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  aclGlob,
  CLUSTER_NODE_COMMANDS,
  DATA_NODE_COMMANDS,
  DATA_NODE_KEY_PATTERNS,
  dataNodeAclRules,
  EXPORTER_ACL_USER,
  exactKeyPattern,
  optInAclRules,
} from '../../exporter/acl.js';
import { optInConfig } from '../../exporter/opt-in-config.js';
import { packageRoot } from '../../exporter/package-root.js';

const optIn = (keyChecks: Record<string, unknown>) =>
  optInConfig(
    { key_checks: keyChecks },
    (key) => key,
    () => '',
  );

/** The exporter user's rules in a shipped ACL template. */
const exporterLine = (folder: string) =>
  new Set(
    readFileSync(join(packageRoot(), folder, 'users.acl.template'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`user ${EXPORTER_ACL_USER} `))
      ?.split(' '),
  );

describe('the cluster rules', () => {
  describe('happy', () => {
    it('are added for a cluster node only', () => {
      for (const command of CLUSTER_NODE_COMMANDS) {
        expect(dataNodeAclRules('p', { cluster: true })).toContain(`+${command}`);
        expect(dataNodeAclRules('p')).not.toContain(`+${command}`);
      }
    });

    it('are granted in cluster/users.acl.template with every data node rule, and not in sentinel/', () => {
      const cluster = exporterLine('cluster');
      for (const command of [...DATA_NODE_COMMANDS, ...CLUSTER_NODE_COMMANDS]) {
        expect(cluster).toContain(`+${command}`);
      }
      for (const pattern of DATA_NODE_KEY_PATTERNS) expect(cluster).toContain(pattern);
      // Topology only: no key or channel beyond the data node's.
      expect([...cluster].filter((w) => /^[%~&]|allkeys|allchannels/.test(w)).sort()).toEqual(
        [...DATA_NODE_KEY_PATTERNS].sort(),
      );
      const sentinel = exporterLine('sentinel');
      for (const command of CLUSTER_NODE_COMMANDS) expect(sentinel).not.toContain(`+${command}`);
    });
  });
});

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
