import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { createTopologyCertificates, serverSubjectAltNames } from '../../stack/certificates.js';

/** The subjectAltName line of `openssl x509 -text`, e.g. `DNS:a, IP Address:127.0.0.1`. */
function subjectAltNameOf(certFile: string): string {
  const text = execFileSync(
    requireBinary('openssl'),
    ['x509', '-in', certFile, '-noout', '-text'],
    {
      encoding: 'utf8',
    },
  );
  const match = /X509v3 Subject Alternative Name:.*\n\s*(.+)/.exec(text);
  return match?.[1]?.trim() ?? '';
}

describe("a topology's server certificate", () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-certificates-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the nodes of a hostname topology by DNS name only, no IP', async () => {
    const hostnames = ['redis-0.redscope.test', 'sentinel-0.redscope.test'];
    const { server } = await createTopologyCertificates(join(dir, 'names'), undefined, {
      hostnames,
    });
    expect(subjectAltNameOf(server.certFile)).toBe(
      'DNS:redis-0.redscope.test, DNS:sentinel-0.redscope.test',
    );
  });

  it('names loopback (and the per-node addresses) of an IP topology, as before', async () => {
    const { server } = await createTopologyCertificates(join(dir, 'ips'), undefined, {
      addresses: ['127.9.9.10'],
    });
    expect(subjectAltNameOf(server.certFile)).toBe(
      'DNS:localhost, DNS:redis-master, IP Address:127.0.0.1, IP Address:127.9.9.10',
    );
    expect(serverSubjectAltNames()).toEqual(['DNS:localhost', 'DNS:redis-master', 'IP:127.0.0.1']);
    expect(serverSubjectAltNames({ hostnames: [] })).toContain('IP:127.0.0.1');
  });
});
