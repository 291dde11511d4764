import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ACL_USERS, generatePasswords, renderAclFile } from '../../stack/acl.js';
import { parseRedisConfig } from '../../stack/redis-config.js';
import { clusterConfigDir } from '../../stack/repo-paths.js';

const dir = clusterConfigDir();
const read = (file: string) => readFileSync(join(dir, file), 'utf8');
const conf = new Map(parseRedisConfig(read('redis-cluster.conf')).map((d) => [d.key, d.args]));
const scratch = mkdtempSync(join(tmpdir(), 'redscope-cluster-configs-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the production configs in cluster/', () => {
  describe('happy', () => {
    it('listens on TLS only and runs replication and the cluster bus over TLS', () => {
      expect(conf.get('port')).toBe('0');
      expect(conf.get('tls-port')).toBe('6379');
      expect(conf.get('tls-auth-clients')).toBe('yes');
      expect(conf.get('tls-replication')).toBe('yes');
      expect(conf.get('tls-cluster')).toBe('yes');
    });

    it('is a cluster node that fails over within the write-gap goal and stops on missing slots', () => {
      expect(conf.get('cluster-enabled')).toBe('yes');
      expect(Number(conf.get('cluster-node-timeout'))).toBeLessThanOrEqual(1500);
      expect(conf.get('cluster-require-full-coverage')).toBe('yes');
      // One replica per shard: a promoted replica has none until the old master rejoins.
      expect(conf.get('min-replicas-to-write')).toBe('0');
      expect(conf.get('aclfile')).toBe('/etc/redis/users.acl');
      expect(conf.get('masteruser')).toBe('replica');
    });

    it('grants the exporter CLUSTER INFO and CLUSTER NODES, and the app CLUSTER SLOTS', () => {
      const acl = read('users.acl.template');
      const line = (user: string) => acl.split('\n').find((l) => l.startsWith(`user ${user} `));
      expect(line('redscope-exporter')).toMatch(/\+cluster\|info\b.*\+cluster\|nodes\b/);
      expect(line('redscope-exporter')).not.toMatch(/\+@all|~\*/);
      expect(line('app')).toMatch(/-@dangerous.*\+cluster\|slots\b/);
      expect(line('default')).toMatch(/\boff\b/);
    });

    it('render-secrets.sh writes the same users.acl as the launcher and appends masterauth', () => {
      const passwords = generatePasswords();
      const secrets = join(scratch, 'secrets');
      const out = join(scratch, 'out');
      mkdirSync(secrets, { recursive: true });
      for (const user of ACL_USERS) {
        writeFileSync(join(secrets, `${user}.password`), `${passwords[user]}\n`);
      }
      const said = execFileSync(join(dir, 'render-secrets.sh'), {
        env: { ...process.env, SECRETS_DIR: secrets, OUT_DIR: out },
        encoding: 'utf8',
      });
      expect(said).toMatch(/wrote users\.acl redis-cluster\.conf/);
      expect(readFileSync(join(out, 'users.acl'), 'utf8')).toBe(
        renderAclFile(read('users.acl.template'), passwords),
      );
      const rendered = parseRedisConfig(readFileSync(join(out, 'redis-cluster.conf'), 'utf8'));
      expect(rendered.find((d) => d.key === 'masterauth')?.args).toBe(passwords.replica);
      expect(statSync(join(out, 'redis-cluster.conf')).mode & 0o077).toBe(0);
    });
  });

  describe('unhappy', () => {
    it('render-secrets.sh exits 2 naming the missing password, echoing no secret', () => {
      const secrets = join(scratch, 'partial');
      mkdirSync(secrets, { recursive: true });
      writeFileSync(join(secrets, 'admin.password'), 'a-secret-that-must-not-leak-1234');
      const result = spawnSync(join(dir, 'render-secrets.sh'), {
        env: { ...process.env, SECRETS_DIR: secrets, OUT_DIR: join(scratch, 'out2') },
        encoding: 'utf8',
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/missing or empty .*\.password/);
      expect(result.stderr + result.stdout).not.toContain('a-secret-that-must-not-leak');
    });
  });
});
