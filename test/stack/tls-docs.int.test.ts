import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { freePort } from '../../stack/ports.js';
import { SupervisedProcess } from '../../stack/processes.js';
import { packageRoot } from '../../stack/repo-paths.js';

/** The bash block that follows `<!-- tested: NAME -->` in docs/tls.md. */
function documentedScript(name: string): string {
  const doc = readFileSync(join(packageRoot(), 'docs', 'tls.md'), 'utf8');
  const marker = doc.indexOf(`<!-- tested: ${name} -->`);
  if (marker === -1) throw new Error(`docs/tls.md has no "tested: ${name}" block`);
  const block = /```bash\n([\s\S]*?)```/.exec(doc.slice(marker));
  if (!block?.[1]) throw new Error(`no bash block after "tested: ${name}"`);
  return block[1];
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the certificate commands in docs/tls.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-tls-docs-'));
  let output = '';
  beforeAll(() => {
    requireBinary('openssl');
    output = execFileSync('bash', ['-c', documentedScript('create-pki')], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('make a CA, node and client certificates that verify, with the documented usages', () => {
    expect(output).toMatch(/redis-1\.crt: OK/);
    expect(output).toMatch(/checkout-app\.crt: OK/);
    const node = new X509Certificate(readFileSync(join(dir, 'redis-1.crt')));
    expect(node.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(node.keyUsage).toEqual(
      expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']),
    );
    const days = (Date.parse(node.validTo) - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(90);
  });

  it('give a Redis that accepts the client certificate, and refuses a client without one', async () => {
    const port = await freePort();
    const server = new SupervisedProcess({
      name: 'docs-redis',
      command: requireBinary('redis-server'),
      args: [
        '--bind',
        '127.0.0.1',
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        join(dir, 'redis-1.crt'),
        '--tls-key-file',
        join(dir, 'redis-1.key'),
        '--tls-ca-cert-file',
        join(dir, 'ca.crt'),
        '--tls-auth-clients',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      outputFile: join(dir, 'redis.out'),
    });
    const tls = {
      ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'checkout-app.crt')),
      key: readFileSync(join(dir, 'checkout-app.key')),
    };
    try {
      await server.start();
      let answer = '';
      const deadline = Date.now() + 10_000;
      while (answer !== 'PONG' && Date.now() < deadline) {
        const client = new Redis({ host: '127.0.0.1', port, tls, retryStrategy: () => null });
        client.on('error', () => undefined);
        answer = await client.ping().catch(() => '');
        client.disconnect();
        if (answer !== 'PONG') await delay(100);
      }
      expect(answer).toBe('PONG');
      const anonymous = new Redis({
        host: '127.0.0.1',
        port,
        tls: { ca: tls.ca },
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      anonymous.on('error', () => undefined);
      await expect(anonymous.ping()).rejects.toThrow();
      anonymous.disconnect();
    } finally {
      await server.stop();
    }
  });
});

describe('the hostname certificate commands in docs/tls.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-tls-docs-names-'));
  let output = '';
  beforeAll(() => {
    // The block uses issue_node and the CA of the create-pki block: one shell, as the doc says.
    output = execFileSync(
      'bash',
      ['-c', `${documentedScript('create-pki')}\n${documentedScript('hostname-certificates')}`],
      { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('issue node certificates that name the nodes by DNS name, and verify', () => {
    expect(output).toMatch(/redis-2\.crt: OK/);
    expect(output).toMatch(/sentinel-2\.crt: OK/);
    expect(output).toContain('DNS:redis-2.railway.internal, DNS:redis-2.internal');
    const node = new X509Certificate(readFileSync(join(dir, 'redis-2.crt')));
    expect(node.checkHost('redis-2.railway.internal')).toBe('redis-2.railway.internal');
    expect(node.checkHost('redis-1.railway.internal')).toBeUndefined();
    expect(node.checkIP('::1')).toBeUndefined();
  });

  it('give a Redis on IPv6 that a client verifying the name accepts, and one expecting another name refuses', async () => {
    const port = await freePort('::1');
    const server = new SupervisedProcess({
      name: 'docs-redis-v6',
      command: requireBinary('redis-server'),
      args: [
        '--bind',
        '::1',
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        join(dir, 'redis-2.crt'),
        '--tls-key-file',
        join(dir, 'redis-2.key'),
        '--tls-ca-cert-file',
        join(dir, 'ca.crt'),
        '--tls-auth-clients',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      outputFile: join(dir, 'redis.out'),
    });
    const tls = {
      ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'checkout-app.crt')),
      key: readFileSync(join(dir, 'checkout-app.key')),
    };
    /** PING over TLS to [::1]:port, checking the certificate against `servername`: PONG or the error code. */
    const ping = async (servername: string): Promise<string> => {
      const client = new Redis({
        host: '::1',
        port,
        tls: { ...tls, servername },
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      let cause: { code?: string } | undefined;
      client.on('error', (error: Error) => {
        cause ??= error as { code?: string };
      });
      try {
        return await client.ping();
      } catch (error) {
        return cause?.code ?? String(error);
      } finally {
        client.disconnect();
      }
    };
    try {
      await server.start();
      let answer = '';
      const deadline = Date.now() + 10_000;
      while (answer !== 'PONG' && Date.now() < deadline) {
        answer = await ping('redis-2.railway.internal');
        if (answer !== 'PONG') await delay(100);
      }
      expect(answer).toBe('PONG');
      expect(await ping('redis-1.railway.internal')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      await server.stop();
    }
  });
});
