import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../stack/certificates.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';

let dir: string;
let exporter: TestExporter;
let ca: Buffer;

function get(path: string, auth?: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, exporter.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca,
        headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {},
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += String(d);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-web-'));
  const authority = await createCertificateAuthority(join(dir, 'ca'), 'web-ca');
  const server = await issueCertificate(authority, join(dir, 'server'), {
    name: 'exporter',
    usage: 'server',
    subjectAltNames: ['IP:127.0.0.1'],
  });
  ca = readFileSync(authority.certFile);
  // Go's htpasswd writes $2y$ hashes; the exporter must take them as they are.
  const hash = bcrypt.hashSync('scrape-pass', 4).replace(/^\$2b\$/, '$2y$');
  writeFileSync(
    join(dir, 'web.yaml'),
    `tls_server_config:\n  cert_file: ${server.certFile}\n  key_file: ${server.keyFile}\nbasic_auth_users:\n  prometheus: ${hash}\n`,
  );
  exporter = await startTestExporter({ 'web-config-file': join(dir, 'web.yaml') });
});

afterAll(async () => {
  await exporter?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('securing the exporter with a web config file', () => {
  describe('happy', () => {
    it('serves /metrics over TLS to a client with the right basic auth', async () => {
      expect(exporter.url).toMatch(/^https:/);
      const response = await get('/metrics', 'prometheus:scrape-pass');
      expect(response.status).toBe(200);
      expect(response.body).toContain('process_resident_memory_bytes');
    });
  });

  describe('unhappy', () => {
    it('answers 401 without credentials or with a wrong password', async () => {
      expect((await get('/metrics')).status).toBe(401);
      expect((await get('/metrics', 'prometheus:wrong')).status).toBe(401);
      expect((await get('/scrape?target=redis://127.0.0.1:1', 'nobody:scrape-pass')).status).toBe(
        401,
      );
    });
  });
});

describe('skipping TLS verification of Redis targets', () => {
  describe('unhappy', () => {
    it('is explicit and logs a warning at start', async () => {
      const insecure = await startTestExporter({ 'tls-insecure-skip-verify': true });
      try {
        const warning = insecure.logs.find((l) => l.level === 40);
        expect(String(warning?.msg)).toMatch(/verification of Redis targets is OFF/);
      } finally {
        await insecure.close();
      }
    });
  });
});

describe('client certificates on the exporter endpoint (VerifyClientCertIfGiven)', () => {
  let verifying: TestExporter;
  let own: { cert: Buffer; key: Buffer };
  let foreign: { cert: Buffer; key: Buffer };
  let serverCa: Buffer;

  beforeAll(async () => {
    const authority = await createCertificateAuthority(join(dir, 'ca2'), 'web-ca2');
    const server = await issueCertificate(authority, join(dir, 'server2'), {
      name: 'exporter2',
      usage: 'server',
      subjectAltNames: ['IP:127.0.0.1'],
    });
    const clients = await createCertificateAuthority(join(dir, 'clients'), 'scraper-ca');
    const scraper = await issueCertificate(clients, join(dir, 'scraper'), {
      name: 'prometheus',
      usage: 'client',
    });
    const otherCa = await createCertificateAuthority(join(dir, 'other'), 'other-ca');
    const intruder = await issueCertificate(otherCa, join(dir, 'intruder'), {
      name: 'intruder',
      usage: 'client',
    });
    own = { cert: readFileSync(scraper.certFile), key: readFileSync(scraper.keyFile) };
    foreign = { cert: readFileSync(intruder.certFile), key: readFileSync(intruder.keyFile) };
    serverCa = readFileSync(authority.certFile);
    writeFileSync(
      join(dir, 'web-mtls.yaml'),
      `tls_server_config:\n  cert_file: ${server.certFile}\n  key_file: ${server.keyFile}\n  client_ca_file: ${clients.certFile}\n  client_auth_type: VerifyClientCertIfGiven\n`,
    );
    verifying = await startTestExporter({ 'web-config-file': join(dir, 'web-mtls.yaml') });
  });

  afterAll(() => verifying?.close());

  function getWith(cert?: { cert: Buffer; key: Buffer }): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL('/healthz', verifying.url),
        { ca: serverCa, ...(cert ?? {}) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('serves a scraper with a certificate from client_ca_file, and one with none', async () => {
    expect(await getWith(own)).toBe(200);
    expect(await getWith()).toBe(200);
  });

  it('refuses a certificate from another CA with 403 rather than ignoring it', async () => {
    expect(await getWith(foreign)).toBe(403);
  });

  it('refuses to start when a verifying mode has no client_ca_file', async () => {
    writeFileSync(
      join(dir, 'web-no-ca.yaml'),
      'tls_server_config:\n  cert_file: /x.crt\n  key_file: /x.key\n  client_auth_type: RequireAndVerifyClientCert\n',
    );
    await expect(
      startTestExporter({ 'web-config-file': join(dir, 'web-no-ca.yaml') }),
    ).rejects.toThrow(/RequireAndVerifyClientCert needs tls_server_config.client_ca_file/);
  });
});
