import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TopologyCertificates } from '../../stack/certificates.js';
import { parseRedisConfig, renderRedisConfig } from '../../stack/redis-config.js';
import { sentinelConfigDir } from '../../stack/repo-paths.js';
import {
  dataNodeDirectives,
  hostnameOf,
  nodeAddresses,
  sentinelDirectives,
  topologyNodeNames,
} from '../../stack/topology-node-config.js';

const templates = sentinelConfigDir();
const template = (file: string) => readFileSync(join(templates, file), 'utf8');
const files = {
  dir: '/run/topology',
  certificates: {
    ca: { name: 'ca', certFile: '/tls/ca.crt', keyFile: '/tls/ca.key' },
    server: { certFile: '/tls/redis.crt', keyFile: '/tls/redis.key', caFile: '/tls/ca.crt' },
    client: { certFile: '/tls/client.crt', keyFile: '/tls/client.key', caFile: '/tls/ca.crt' },
  } satisfies TopologyCertificates,
};

/** The rendered file's directives, in order, as `key args`. */
const lines = (text: string) => parseRedisConfig(text).map((d) => `${d.key} ${d.args}`);
const directive = (text: string, key: string) =>
  parseRedisConfig(text).find((d) => d.key === key)?.args;

describe('the launcher config of a hostname topology', () => {
  const names = topologyNodeNames(2, 3);
  const addresses = nodeAddresses('hostnames', names);

  it('gives every node a name under redscope.test on ::1, with no source address of its own', () => {
    expect(names).toEqual([
      'redis-0',
      'redis-1',
      'redis-2',
      'sentinel-0',
      'sentinel-1',
      'sentinel-2',
    ]);
    expect(addresses.map((a) => a.host)).toEqual(names.map((name) => `${name}.redscope.test`));
    expect(addresses.every((a) => a.listen === '::1' && a.source === undefined)).toBe(true);
    expect(hostnameOf('redis-1', 'railway.internal')).toBe('redis-1.railway.internal');
  });

  it('has a replica follow the master by name and announce its own name, listening on ::1', () => {
    const [master, replica] = addresses;
    const rendered = renderRedisConfig(
      template('redis-replica.conf'),
      dataNodeDirectives(files, {
        name: 'redis-1',
        address: replica as (typeof addresses)[number],
        port: 7001,
        replicaOf: { host: (master as (typeof addresses)[number]).host, port: 7000 },
        aclFile: undefined,
        passwords: undefined,
        extra: undefined,
      }),
    );
    expect(directive(rendered, 'replicaof')).toBe('redis-0.redscope.test 7000');
    expect(directive(rendered, 'replica-announce-ip')).toBe('redis-1.redscope.test');
    expect(directive(rendered, 'bind')).toBe('::1');
    expect(directive(rendered, 'bind-source-addr')).toBeUndefined();
    expect(directive(rendered, 'tls-port')).toBe('7001');
  });

  it('has a Sentinel monitor the master by name, resolve and announce names, and announce its own', () => {
    const rendered = renderRedisConfig(
      template('sentinel.conf'),
      sentinelDirectives(files, {
        name: 'sentinel-0',
        address: addresses[3] as (typeof addresses)[number],
        port: 7100,
        masterName: 'redscope',
        masterHost: 'redis-0.redscope.test',
        masterPort: 7000,
        quorum: '2',
        passwords: undefined,
        extra: undefined,
      }),
    );
    const order = lines(rendered);
    expect(order).toContain('sentinel monitor redscope redis-0.redscope.test 7000 2');
    expect(order).toContain('sentinel announce-ip sentinel-0.redscope.test');
    expect(order).toContain('sentinel announce-hostnames yes');
    expect(directive(rendered, 'bind')).toBe('::1');
    // Sentinel resolves the monitor line as it reads it: resolve-hostnames must come first.
    expect(order.indexOf('sentinel resolve-hostnames yes')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('sentinel resolve-hostnames yes')).toBeLessThan(
      order.findIndex((line) => line.startsWith('sentinel monitor')),
    );
  });

  it('keeps the IP topologies as they were: 127.0.0.1, or an address (and source) per node', () => {
    expect(nodeAddresses('shared', names).every((a) => a.host === '127.0.0.1')).toBe(true);
    const perNode = nodeAddresses('per-node', names);
    expect(new Set(perNode.map((a) => a.host)).size).toBe(names.length);
    expect(perNode.every((a) => a.listen === a.host && a.source === a.host)).toBe(true);
    const rendered = renderRedisConfig(
      template('sentinel.conf'),
      sentinelDirectives(files, {
        name: 'sentinel-0',
        address: { host: '127.0.0.1', listen: '127.0.0.1' },
        port: 7100,
        masterName: 'redscope',
        masterHost: '127.0.0.1',
        masterPort: 7000,
        quorum: '2',
        passwords: undefined,
        extra: undefined,
      }),
    );
    expect(directive(rendered, 'sentinel monitor')).toBe('redscope 127.0.0.1 7000 2');
    expect(directive(rendered, 'bind-source-addr')).toBeUndefined();
  });
});
