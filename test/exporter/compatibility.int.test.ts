import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataNodeAclRules, EXPORTER_ACL_USER, sentinelAclRules } from '../../exporter/acl.js';
import type { TargetRole } from '../../exporter/metrics-doc.js';
import { RedisTopology } from '../../stack/topology.js';
import { familyDifferences } from './support/compare-families.js';
import { type Comparison, startComparison } from './support/comparison.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';
import { INHERITED_PROMTOOL_FINDINGS } from './support/inherited-findings.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';
import { promtoolFindings } from './support/promtool.js';

let topology: RedisTopology;
let comparison: Comparison;
const outputs = new Map<TargetRole, { theirs: string; ours: string }>();

beforeAll(async () => {
  // ACL off: both exporters talk to the same open `default` user (the least-privilege
  // tests below create the documented exporter user themselves).
  topology = await RedisTopology.start({ tls: true, acl: false, replicas: 1, sentinels: 1 });
  const master = topology.connect(topology.port('redis-0'));
  try {
    // Data in two DBs, one key expiring, failed and rejected calls, an error
    // type, and a slow command for the slowlog and the latency monitor.
    await master.set('compat:a', '1');
    await master.set('compat:s', 'text');
    await master.lpush('compat:l', 'x');
    await master.call('SELECT', '1');
    await master.set('compat:b', '2', 'EX', 1000);
    await master.call('SELECT', '0');
    await master.incr('compat:s').catch(() => undefined);
    await master.get('compat:l').catch(() => undefined);
    await master.call('SET', 'compat:x').catch(() => undefined);
    await master.eval('local i = 0 while i < 4000000 do i = i + 1 end return i', 0);
    await master.call('WAIT', '1', '2000');
  } finally {
    master.disconnect();
  }
  comparison = await startComparison(
    topology.describe(),
    `rediss://127.0.0.1:${topology.port('redis-0')}`,
  );
  for (const [role, node] of [
    ['master', 'redis-0'],
    ['replica', 'redis-1'],
    ['sentinel', 'sentinel-0'],
  ] as const) {
    outputs.set(role, await comparison.scrape(topology.port(node)));
  }
}, 60_000);

afterAll(async () => {
  await comparison?.stop();
  await topology?.stop();
});

describe('compatibility with redis_exporter 1.45', () => {
  describe('happy', () => {
    it.each(['master', 'replica', 'sentinel'] as const)(
      'exports every %s family of redis_exporter with the same type and label names',
      (role) => {
        const output = outputs.get(role);
        if (!output) throw new Error(`no output for ${role}`);
        const theirs = parseExposition(output.theirs);
        const mine = parseExposition(output.ours);
        // The provoked data must have produced the conditional families on both sides.
        if (role === 'master') {
          for (const name of [
            'redis_errors_total',
            'redis_commands_failed_calls_total',
            'redis_latency_percentiles_usec',
            'redis_latency_spike_last',
            'redis_connected_slave_lag_seconds',
            'redis_db_avg_ttl_seconds',
          ]) {
            expect(theirs.has(name), `redis_exporter should export ${name}`).toBe(true);
          }
        }
        expect(familyDifferences(role, theirs, mine)).toEqual([]);
        expect(sampleValue(mine, 'redis_up')).toBe(1);
      },
    );

    it('agrees with redis_exporter on the values of slow-moving families', () => {
      const output = outputs.get('master');
      if (!output) throw new Error('no master output');
      const theirs = parseExposition(output.theirs);
      const mine = parseExposition(output.ours);
      for (const [name, labels] of [
        ['redis_db_keys', { db: 'db0' }],
        ['redis_db_keys', { db: 'db1' }],
        ['redis_db_keys', { db: 'db7' }],
        ['redis_db_keys_expiring', { db: 'db1' }],
        ['redis_connected_slaves', {}],
        ['redis_config_maxclients', {}],
        ['redis_commands_failed_calls_total', { cmd: 'incr' }],
        ['redis_errors_total', { err: 'WRONGTYPE' }],
        ['redis_slowlog_length', {}],
      ] as const) {
        expect(sampleValue(mine, name, labels), `${name} ${JSON.stringify(labels)}`).toBe(
          sampleValue(theirs, name, labels),
        );
      }
    });

    it('adds the redscope families: latency histograms, TLS expiry, collector success, Sentinel health', () => {
      const master = parseExposition(outputs.get('master')?.ours ?? '');
      expect(
        sampleValue(master, 'redscope_redis_command_latency_seconds_count', { cmd: 'eval' }),
      ).toBe(1);
      expect(
        sampleValue(master, 'redscope_redis_command_latency_seconds_bucket', {
          cmd: 'eval',
          le: '0.005',
        }),
      ).toBe(0);
      const expiry = sampleValue(master, 'redscope_tls_certificate_expiry_timestamp_seconds');
      expect(expiry).toBeGreaterThan(Date.now() / 1000);
      for (const sample of master.get('redscope_exporter_collector_success')?.samples ?? []) {
        expect(sample.value, sample.labels.collector).toBe(1);
      }
      const sentinel = parseExposition(outputs.get('sentinel')?.ours ?? '');
      expect(sampleValue(sentinel, 'redscope_sentinel_up')).toBe(1);
      expect(
        sampleValue(sentinel, 'redscope_sentinel_master_info', { master_name: 'redscope' }),
      ).toBe(1);
      expect(
        sampleValue(sentinel, 'redscope_sentinel_replica_link_up', { master_name: 'redscope' }),
      ).toBe(1);
      expect(
        sampleValue(sentinel, 'redscope_sentinel_failover_in_progress', {
          master_name: 'redscope',
        }),
      ).toBe(0);
    });
  });

  describe('unhappy', () => {
    it.each(['master', 'replica', 'sentinel'] as const)(
      'passes promtool check metrics on the %s output but for the inherited redis_exporter names',
      async (role) => {
        const findings = await promtoolFindings(outputs.get(role)?.ours ?? '');
        expect(findings.filter((f) => f.startsWith('redscope_'))).toEqual([]);
        expect(findings.filter((f) => !INHERITED_PROMTOOL_FINDINGS.includes(f))).toEqual([]);
      },
    );
  });
});

describe('the least-privilege ACL of docs/metrics.md', () => {
  let dir: string;
  let limited: TestExporter | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redscope-acl-'));
    for (const node of ['redis-0', 'redis-1']) {
      const client = topology.connect(topology.port(node));
      try {
        await client.call(
          'ACL',
          'SETUSER',
          EXPORTER_ACL_USER,
          ...dataNodeAclRules('exporter-pass-1'),
        );
        const withoutConfig = dataNodeAclRules('no-config-pass').filter((r) => r !== '+config|get');
        await client.call('ACL', 'SETUSER', 'no-config', ...withoutConfig);
      } finally {
        client.disconnect();
      }
    }
    const sentinel = topology.connect(topology.port('sentinel-0'));
    try {
      await sentinel.call(
        'ACL',
        'SETUSER',
        EXPORTER_ACL_USER,
        ...sentinelAclRules('exporter-pass-2'),
      );
    } finally {
      sentinel.disconnect();
    }
    const credentials = join(dir, 'credentials.yaml');
    writeFileSync(
      credentials,
      [
        'targets:',
        `  - match: "rediss://127.0.0.1:${topology.port('redis-1')}"`,
        '    username: no-config',
        '    password: no-config-pass',
        `  - match: "rediss://127.0.0.1:${topology.port('sentinel-0')}"`,
        `    username: ${EXPORTER_ACL_USER}`,
        '    password: exporter-pass-2',
        '  - match: "rediss://127.0.0.1:*"',
        `    username: ${EXPORTER_ACL_USER}`,
        `    password_file: ${join(dir, 'exporter.password')}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'exporter.password'), 'exporter-pass-1\n');
    const tls = topology.describe().tls;
    limited = await startTestExporter({
      'allow-target': ['rediss://127.0.0.1:*'],
      'credentials-file': credentials,
      'tls-ca': tls?.caFile,
      'tls-cert': tls?.certFile,
      'tls-key': tls?.keyFile,
    } as never);
  });

  afterAll(async () => {
    await limited?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async (node: string) => {
    const target = encodeURIComponent(`rediss://127.0.0.1:${topology.port(node)}`);
    const response = await limited?.get(`/scrape?target=${target}`);
    expect(response?.status).toBe(200);
    return parseExposition(response?.text ?? '');
  };

  describe('happy', () => {
    it.each(['redis-0', 'sentinel-0'])('lets every collector succeed on %s', async (node) => {
      const parsed = await scrape(node);
      expect(sampleValue(parsed, 'redis_up')).toBe(1);
      const failed = (parsed.get('redscope_exporter_collector_success')?.samples ?? [])
        .filter((s) => s.value !== 1)
        .map((s) => s.labels.collector);
      expect(failed).toEqual([]);
      expect(parsed.get('redscope_exporter_collector_success')?.samples.length).toBeGreaterThan(2);
    });
  });

  describe('unhappy', () => {
    it('reports the config collector failed, and everything else, for a user without CONFIG rights', async () => {
      const parsed = await scrape('redis-1');
      expect(sampleValue(parsed, 'redis_up')).toBe(1);
      expect(
        sampleValue(parsed, 'redscope_exporter_collector_success', { collector: 'config' }),
      ).toBe(0);
      expect(
        sampleValue(parsed, 'redscope_exporter_collector_success', { collector: 'info' }),
      ).toBe(1);
      expect(
        sampleValue(parsed, 'redscope_exporter_collector_success', { collector: 'keyspace' }),
      ).toBe(1);
      expect(parsed.has('redis_config_maxclients')).toBe(false);
      expect(sampleValue(parsed, 'redis_db_keys', { db: 'db0' })).toBeGreaterThan(0);
      expect(sampleValue(parsed, 'redis_master_link_up')).toBe(1);
    });
  });
});

describe('following the master through Sentinel', () => {
  describe('happy', () => {
    it('scrapes the master the Sentinels name on /metrics', async () => {
      const tls = topology.describe().tls;
      const viaSentinel = await startTestExporter({
        sentinels: `rediss://127.0.0.1:${topology.port('sentinel-0')}`,
        'master-name': 'redscope',
        'tls-ca': tls?.caFile,
        'tls-cert': tls?.certFile,
        'tls-key': tls?.keyFile,
      } as never);
      try {
        const parsed = parseExposition((await viaSentinel.get('/metrics')).text);
        expect(sampleValue(parsed, 'redis_up')).toBe(1);
        expect(
          sampleValue(parsed, 'redis_instance_info', {
            role: 'master',
            tcp_port: String(topology.port('redis-0')),
          }),
        ).toBe(1);
        expect(sampleValue(parsed, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      } finally {
        await viaSentinel.close();
      }
    });
  });
});
