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
