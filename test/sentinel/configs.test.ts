import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ACL_USERS,
  AclTemplateError,
  generatePasswords,
  renderAclFile,
  USERNAMES,
} from '../../stack/acl.js';
import { parseRedisConfig } from '../../stack/redis-config.js';
import { sentinelConfigDir } from '../../stack/repo-paths.js';

const dir = sentinelConfigDir();
const read = (file: string) => readFileSync(join(dir, file), 'utf8');
const directives = (file: string) =>
  new Map(parseRedisConfig(read(file)).map((d) => [d.key, d.args]));

describe('the production configs in sentinel/', () => {
  for (const file of ['redis-master.conf', 'redis-replica.conf']) {
    it(`${file} listens on TLS only, verifies client certificates and replicates over TLS`, () => {
      const conf = directives(file);
      expect(conf.get('port')).toBe('0');
      expect(conf.get('tls-port')).toBe('6379');
      expect(conf.get('tls-auth-clients')).toBe('yes');
      expect(conf.get('tls-replication')).toBe('yes');
    });

    it(`${file} takes its users from the ACL file and replicates as the replica user`, () => {
      const conf = directives(file);
      expect(conf.get('aclfile')).toBe('/etc/redis/users.acl');
      expect(conf.get('masteruser')).toBe('replica');
      expect(conf.get('min-replicas-to-write')).toBe('1');
      expect(conf.get('min-replicas-max-lag')).toBe('2');
      expect(conf.get('repl-diskless-sync-delay')).toBe('0');
    });
  }

  it('sentinel.conf uses TLS, authenticates as the sentinel user and fails over within the 3 s goal', () => {
    const conf = directives('sentinel.conf');
    expect(conf.get('port')).toBe('0');
    expect(conf.get('tls-auth-clients')).toBe('yes');
    expect(conf.get('tls-replication')).toBe('yes');
    expect(conf.get('sentinel auth-user')).toBe('redscope sentinel');
    expect(conf.get('sentinel monitor')).toMatch(/^redscope \S+ 6379 2$/);
    // Above Sentinel's 1000 ms ping period (spurious second failovers), well under 3 s.
    expect(conf.get('sentinel down-after-milliseconds')).toBe('redscope 1200');
    expect(conf.get('sentinel failover-timeout')).toBe('redscope 5000');
    expect(conf.get('sentinel parallel-syncs')).toBe('redscope 1');
  });

  it('listens on IPv4 and IPv6 and works with DNS names: Sentinel resolves and announces hostnames', () => {
    for (const file of ['redis-master.conf', 'redis-replica.conf', 'sentinel.conf']) {
      expect(directives(file).get('bind'), file).toBe('* -::*');
    }
    const sentinel = parseRedisConfig(read('sentinel.conf'));
    const keys = sentinel.map((d) => `${d.key} ${d.args}`);
    expect(keys).toContain('sentinel resolve-hostnames yes');
    expect(keys).toContain('sentinel announce-hostnames yes');
    // Sentinel resolves the monitor line as it reads it: the setting must come first.
    expect(keys.indexOf('sentinel resolve-hostnames yes')).toBeLessThan(
      sentinel.findIndex((d) => d.key === 'sentinel monitor'),
    );
    // The master is named, not addressed, in the shipped files.
    expect(directives('redis-replica.conf').get('replicaof')).toBe('redis-master 6379');
    expect(directives('sentinel.conf').get('sentinel monitor')).toMatch(/^redscope redis-master /);
    // The per-node announcement is documented where it goes, not set to one value for all nodes.
    for (const file of ['redis-master.conf', 'redis-replica.conf']) {
      expect(directives(file).has('replica-announce-ip'), file).toBe(false);
      expect(read(file)).toMatch(/^#\s+replica-announce-ip <this node's DNS name>/m);
    }
  });

  it('holds no password in any committed file', () => {
    for (const file of ['redis-master.conf', 'redis-replica.conf', 'sentinel.conf']) {
      const keys = parseRedisConfig(read(file)).map((d) => d.key);
      for (const secret of ['masterauth', 'requirepass', 'sentinel auth-pass', 'user']) {
        expect(keys, `${file} has ${secret}`).not.toContain(secret);
      }
    }
    const userLines = read('users.acl.template')
      .split('\n')
      .filter((line) => line.startsWith('user '));
    expect(userLines.map((line) => line.split(' ')[1])).toEqual([
      'default',
      ...ACL_USERS.map((user) => USERNAMES[user]),
    ]);
    for (const line of userLines) {
      expect(line, 'a plaintext >password').not.toMatch(/\s>/);
      expect(line).not.toMatch(/\bnopass\b/);
    }
    expect(userLines[0]).toMatch(/^user default off\b.*-@all/);
  });
});

describe('rendering the ACL file', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'redscope-render-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('replaces each placeholder with the SHA-256 of the password and drops comments', () => {
    const passwords = generatePasswords();
    const acl = renderAclFile(read('users.acl.template'), passwords);
    expect(acl).not.toMatch(/^#/m);
    expect(acl).not.toContain('{{');
    for (const user of ACL_USERS) expect(acl).not.toContain(passwords[user]);
    const adminHash = execFileSync('sha256sum', { input: passwords.admin })
      .toString()
      .split(' ')[0];
    expect(acl).toContain(`user admin on #${adminHash} `);
  });

  it('gives the same users.acl as sentinel/render-secrets.sh, which also appends the secrets', () => {
    const passwords = generatePasswords();
    const secrets = join(scratch, 'secrets');
    const out = join(scratch, 'out');
    execFileSync('mkdir', ['-p', secrets]);
    for (const user of ACL_USERS)
      writeFileSync(join(secrets, `${user}.password`), `${passwords[user]}\n`);
    execFileSync(join(dir, 'render-secrets.sh'), {
      env: { ...process.env, SECRETS_DIR: secrets, OUT_DIR: out },
    });
    expect(readFileSync(join(out, 'users.acl'), 'utf8')).toBe(
      renderAclFile(read('users.acl.template'), passwords),
    );
    expect(statSync(join(out, 'users.acl')).mode & 0o077).toBe(0);
    const master = new Map(
      parseRedisConfig(readFileSync(join(out, 'redis-master.conf'), 'utf8')).map((d) => [
        d.key,
        d.args,
      ]),
    );
    expect(master.get('masterauth')).toBe(passwords.replica);
    const sentinel = new Map(
      parseRedisConfig(readFileSync(join(out, 'sentinel.conf'), 'utf8')).map((d) => [
        d.key,
        d.args,
      ]),
    );
    expect(sentinel.get('sentinel auth-pass')).toBe(`redscope ${passwords.sentinel}`);
  });

  describe('unhappy', () => {
    it('names the user whose password is missing', () => {
      const { app: _app, ...rest } = generatePasswords();
      expect(() => renderAclFile(read('users.acl.template'), rest)).toThrow(AclTemplateError);
      expect(() => renderAclFile(read('users.acl.template'), rest)).toThrow(/"app".*app\.password/);
    });

    it('render-secrets.sh exits 2 naming the missing password file, without echoing secrets', () => {
      const secrets = join(scratch, 'partial');
      execFileSync('mkdir', ['-p', secrets]);
      writeFileSync(join(secrets, 'admin.password'), 'a-secret-that-must-not-leak-1234');
      const result = spawnSync(join(dir, 'render-secrets.sh'), {
        env: { ...process.env, SECRETS_DIR: secrets, OUT_DIR: join(scratch, 'out2') },
        encoding: 'utf8',
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/missing or empty .*app\.password/);
      expect(result.stderr + result.stdout).not.toContain('a-secret-that-must-not-leak');
    });
  });
});
