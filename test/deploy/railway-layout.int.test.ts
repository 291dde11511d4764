import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClients, type RedisClients } from '../../client/index.js';
import { railwayRedisConfig } from '../../docs/examples/railway-connection.js';
import { freePorts } from '../../stack/ports.js';
import {
  info,
  LOOPBACK,
  type LoopbackService,
  onNode,
  SENTINEL_HOST,
  startRailwayExporter,
  startService,
  until,
} from './support/loopback.js';
import { type Layout, loadLayout } from './support/railway-layout.js';

/**
 * deploy/railway/ha brought up on loopback the way Railway runs it: each
 * service is the entrypoint with the service's variables (references resolved,
 * certificates from issue-certificates.ts), exec'ing redis-server or
 * redis-sentinel on the configs it rendered. Names are `localhost` with a port
 * per service instead of `<service>.railway.internal` on 6379/26379.
 */
describe('the HA layout of deploy/railway, run from its own files', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'redscope-railway-ha-'));
  let layout: Layout;
  const services = new Map<string, LoopbackService>();
  let ports: number[] = [];
  const portOf = (name: string) => services.get(name)?.port ?? 0;
  let clients: RedisClients | undefined;

  beforeAll(async () => {
    layout = await loadLayout('ha', join(scratch, 'certs'), {
      domainOf: (service) => (service.startsWith('sentinel') ? SENTINEL_HOST : LOOPBACK),
    });
    ports = await freePorts(7);
    const [m, r2, r3, s1, s2, s3] = ports as [number, number, number, number, number, number];
    const master = { REDSCOPE_MASTER_PORT: String(m) };
    services.set('redis-1', await startService(layout, scratch, 'redis-1', m));
    services.set('redis-2', await startService(layout, scratch, 'redis-2', r2, master));
    services.set('redis-3', await startService(layout, scratch, 'redis-3', r3, master));
    for (const [name, port] of [
      ['sentinel-1', s1],
      ['sentinel-2', s2],
      ['sentinel-3', s3],
    ] as const) {
      services.set(name, await startService(layout, scratch, name, port, master));
    }
  }, 60_000);

  afterAll(async () => {
    await clients?.close();
    await Promise.all([...services.values()].map((s) => s.process.stop()));
    rmSync(scratch, { recursive: true, force: true });
  });

  const sentinelList = () =>
    ['sentinel-1', 'sentinel-2', 'sentinel-3']
      .map((s) => `${SENTINEL_HOST}:${portOf(s)}`)
      .join(',');

  it('replicates over TLS to both replicas, which announce their names', async () => {
    await until('two replicas online on redis-1', () =>
      onNode(layout, portOf('redis-1'), async (c) => {
        const replication = await info(c, 'replication');
        return (
          replication.get('connected_slaves') === '2' &&
          [0, 1].every((i) => replication.get(`slave${i}`)?.includes('state=online'))
        );
      }),
    );
    const replication = await onNode(layout, portOf('redis-1'), (c) => info(c, 'replication'));
    const announced = [0, 1].map((i) =>
      /ip=([^,]+),port=(\d+)/.exec(replication.get(`slave${i}`) ?? ''),
    );
    expect(announced.map((a) => a?.[1])).toEqual([LOOPBACK, LOOPBACK]);
    expect(announced.map((a) => Number(a?.[2])).sort()).toEqual(
      [portOf('redis-2'), portOf('redis-3')].sort(),
    );
  });

  it('the three Sentinels agree on the master by name, see both replicas and each other', async () => {
    for (const sentinel of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      await until(`${sentinel} to see 2 replicas and 2 other Sentinels`, () =>
        onNode(
          layout,
          portOf(sentinel),
          async (c) => {
            const master = (await c.call('SENTINEL', 'MASTER', 'redscope')) as string[];
            const fields = new Map<string, string>();
            for (let i = 0; i + 1 < master.length; i += 2)
              fields.set(master[i] as string, master[i + 1] as string);
            return (
              fields.get('ip') === LOOPBACK &&
              fields.get('port') === String(portOf('redis-1')) &&
              fields.get('num-slaves') === '2' &&
              fields.get('num-other-sentinels') === '2' &&
              fields.get('flags') === 'master'
            );
          },
          true,
        ),
      );
    }
    const ckquorum = await onNode(
      layout,
      portOf('sentinel-2'),
      (c) => c.call('SENTINEL', 'CKQUORUM', 'redscope'),
      true,
    );
    expect(String(ckquorum)).toMatch(/^OK 3 usable Sentinels/);
  });

  it('the app connects with app.env through docs/examples/railway-connection.ts: writes, durable writes, replica reads', async () => {
    clients = createRedisClients(
      railwayRedisConfig(layout.env('app', { REDSCOPE_SENTINELS: sentinelList() })),
    );
    await clients.ready();
    await clients.writer.set('railway:ha:key', 'v1');
    const durable = await clients.writeDurably((tx) => tx.set('railway:ha:durable', 'd'));
    expect(durable.acknowledged).toBeGreaterThanOrEqual(1);
    await until(
      'the replica read',
      async () => (await clients?.reader.get('railway:ha:key')) === 'v1',
    );
    // The reader falls back to the master until its replica connection is ready.
    await until('reads to be served by a replica', async () => {
      const role = await clients?.reader.read(
        async (redis) => (await redis.call('ROLE')) as unknown[],
      );
      return role?.[0] === 'slave';
    });
  });

  it("the exporter's start command and variables: the master through the Sentinels, every node through /scrape", async () => {
    const exporter = await startRailwayExporter(
      scratch,
      layout.env('redscope-exporter', {
        REDSCOPE_SENTINELS: sentinelList()
          .split(',')
          .map((s) => `rediss://${s}`)
          .join(','),
        // `*.railway.internal` on Railway; these names here.
        REDSCOPE_ALLOW_TARGET: `rediss://${LOOPBACK}:*,rediss://${SENTINEL_HOST}:*`,
      }),
      ports[6] ?? 0,
    );
    try {
      // The master is known once a Sentinel answered, shortly after the start.
      let metrics = '';
      await until('the exporter to find the master through the Sentinels', async () => {
        metrics = await (await fetch(`${exporter.url}/metrics`)).text();
        return /^redis_up 1$/m.test(metrics);
      }).catch((error: Error) => {
        throw new Error(`${error.message}; exporter output: ${exporter.output().slice(-2000)}`);
      });
      expect(metrics).toMatch(/^redis_instance_info\{[^}]*role="master"/m);
      // A replica, with the exporter's ACL user from the credentials file the start command wrote.
      const replica = await (
        await fetch(`${exporter.url}/scrape?target=rediss://${LOOPBACK}:${portOf('redis-3')}`)
      ).text();
      expect(replica).toMatch(/^redis_up 1$/m);
      expect(replica).toMatch(/^redis_master_link_up\{[^}]*\} 1$/m);
      const sentinel = await (
        await fetch(
          `${exporter.url}/scrape?target=rediss://${SENTINEL_HOST}:${portOf('sentinel-1')}`,
        )
      ).text();
      expect(sentinel).toMatch(/^redis_up 1$/m);
      expect(sentinel).toMatch(/^redis_sentinel_masters 1$/m);
    } finally {
      await exporter.stop();
    }
  }, 40_000);

  it('after a kill -9 of redis-1 and a failover, redis-1 redeployed comes back as a replica of the new master', async () => {
    const killed = services.get('redis-1');
    const killedAt = performance.now();
    await killed?.process.kill();
    let newMaster = '';
    await until(
      'a failover to redis-2 or redis-3',
      () =>
        onNode(
          layout,
          portOf('sentinel-1'),
          async (c) => {
            const address = (await c.call(
              'SENTINEL',
              'GET-MASTER-ADDR-BY-NAME',
              'redscope',
            )) as string[];
            newMaster = address.join(':');
            return address[1] !== String(portOf('redis-1'));
          },
          true,
        ),
      20_000,
    );
    expect(newMaster.startsWith(`${LOOPBACK}:`)).toBe(true);
    const switchedAfter = performance.now() - killedAt;
    // The new master takes writes once its other replica follows it (min-replicas-to-write 1).
    await until('a write on the new master', async () => {
      await clients?.writer.set('railway:ha:after-failover', 'v2');
      return true;
    });

    // Railway restarts the service: same variables (REDSCOPE_ROLE=master), same volume.
    const restartedAt = performance.now();
    await killed?.restart();
    await until(
      'redis-1 to rejoin as a replica of the new master',
      () =>
        onNode(layout, portOf('redis-1'), async (c) => {
          const replication = await info(c, 'replication');
          return (
            replication.get('role') === 'slave' &&
            `${replication.get('master_host')}:${replication.get('master_port')}` === newMaster &&
            replication.get('master_link_status') === 'up'
          );
        }),
      // Measured at about 11 s (docs/railway.md): Sentinel waits before it converts a node
      // that claims the wrong role. Room for a busy machine, which stretches its timers.
      40_000,
    );
    expect(await onNode(layout, portOf('redis-1'), (c) => c.get('railway:ha:after-failover'))).toBe(
      'v2',
    );
    // docs/railway.md quotes these: how long until the Sentinels switch, and how long the
    // redeployed old master stays a (write-refusing, replica-less) master before Sentinel demotes it.
    console.info(
      `railway HA measurements (ms): ${JSON.stringify({
        killToSwitch: Math.round(switchedAfter),
        restartToRejoinedAsReplica: Math.round(performance.now() - restartedAt),
      })}`,
    );
  }, 90_000);
});
