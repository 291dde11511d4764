import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { presentedFingerprint } from '../../stack/certificate-rotation.js';
import { issueCertificate } from '../../stack/certificates.js';
import { RedisTopology } from '../../stack/topology.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (text: string) => out.push(text), err: (text: string) => err.push(text) },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

/**
 * What systemd's Restart=always does in production: a Sentinel that the
 * plan's restart command stopped is started again (by the launcher here).
 */
function superviseSentinels(topology: RedisTopology): () => void {
  const restarting = new Set<string>();
  const timer = setInterval(() => {
    for (const name of topology.names('sentinel')) {
      if (topology.pid(name) !== undefined || restarting.has(name)) continue;
      restarting.add(name);
      topology
        .restart(name)
        .catch(() => undefined)
        .finally(() => restarting.delete(name));
    }
  }, 50);
  return () => clearInterval(timer);
}

describe('redscope rotate-certs', () => {
  let topology: RedisTopology;
  let planFile: string;
  beforeAll(async () => {
    topology = await RedisTopology.start({ tls: true });
    const { host, nodes, masterName, tls } = topology.describe();
    if (!tls) throw new Error('expected TLS');
    const dir = topology.dir;
    // Edits the Sentinel's config like redis-sentinel-set-tls in docs/tls.md, then stops it.
    const restart = [
      `conf="${dir}/$REDSCOPE_NODE.conf"`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
      'for pair in "tls-cert-file:${REDSCOPE_TLS_CERT_FILE:-}" "tls-key-file:${REDSCOPE_TLS_KEY_FILE:-}" "tls-ca-cert-file:${REDSCOPE_TLS_CA_CERT_FILE:-}"; do',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
      '  key="${pair%%:*}"; value="${pair#*:}"',
      '  if [ -n "$value" ]; then sed -i "s|^$key .*|$key $value|" "$conf"; fi',
      'done',
      `pid=$(cat "${dir}/$REDSCOPE_NODE/redis.pid"); kill "$pid"`,
      'while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done',
    ].join('\n');
    const plan = {
      masterName,
      admin: { username: 'admin', passwordFile: join(dir, 'secrets', 'admin.password') },
      client: tls,
      dataNodes: nodes
        .filter((n) => n.role !== 'sentinel')
        .map((n) => ({ name: n.name, host, port: n.port })),
      sentinels: nodes
        .filter((n) => n.role === 'sentinel')
        .map((n) => ({ name: n.name, host, port: n.port })),
      sentinelRestartCommand: restart,
    };
    planFile = join(dir, 'rotation.json');
    writeFileSync(planFile, JSON.stringify(plan));
  });
  afterAll(() => topology?.stop());

  it('renews every node under the same CA, Sentinels one at a time, and every port presents the new certificate', async () => {
    const ca = topology.certificates?.ca;
    const tls = topology.describe().tls;
    if (!ca || !tls) throw new Error('expected TLS');
    const renewed = await issueCertificate(ca, join(topology.dir, 'tls-renewed'), {
      name: 'redis-renewed',
      usage: 'server',
      subjectAltNames: ['DNS:localhost', 'IP:127.0.0.1'],
    });
    const stopSupervising = superviseSentinels(topology);
    const output = capture();
    let code: number;
    try {
      code = await main(
        [
          'node',
          'redscope',
          'rotate-certs',
          '--plan',
          planFile,
          '--cert-file',
          renewed.certFile,
          '--key-file',
          renewed.keyFile,
        ],
        output.io,
      );
    } finally {
      stopSupervising();
    }
    expect(output.err()).toBe('');
    expect(code).toBe(0);
    expect(output.out()).toMatch(/sentinel-2: restarted and rejoined its peers/);
    expect(output.out()).toMatch(/done: 3 data nodes and 3 Sentinels/);
    const expected = new X509Certificate(readFileSync(renewed.certFile)).fingerprint256;
    for (const node of topology.describe().nodes) {
      expect(
        await presentedFingerprint({ host: '127.0.0.1', port: node.port }, tls),
        node.name,
      ).toBe(expected);
    }
  });

  describe('unhappy', () => {
    it('exits 2 naming what is missing when no file to change is given', async () => {
      const output = capture();
      expect(await main(['node', 'redscope', 'rotate-certs', '--plan', planFile], output.io)).toBe(
        2,
      );
      expect(output.err()).toMatch(/--cert-file and --key-file, --ca-file/);
    });

    it('exits 2 naming the field of a broken plan, before touching any node', async () => {
      const broken = join(topology.dir, 'broken.yaml');
      writeFileSync(broken, 'masterName: redscope\nadmin: { username: admin }\n');
      const output = capture();
      expect(
        await main(
          ['node', 'redscope', 'rotate-certs', '--plan', broken, '--ca-file', '/x.crt'],
          output.io,
        ),
      ).toBe(2);
      expect(output.err()).toMatch(/admin\.passwordFile must be a non-empty string/);
    });
  });
});
