import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { AclUser } from '../../stack/acl.js';
import { clientFor, portOf, sharedTopology } from '../support/shared-topology.js';

const topology = sharedTopology();
const prefix = `test:acl:${process.pid}:`;

/** A client on the master logged in as one of the ACL users (or nobody). */
function as(user: AclUser | 'nobody', port = portOf(topology, 'master')): Redis {
  const credentials =
    user === 'nobody' ? { username: undefined, password: undefined } : topology.users?.[user];
  if (!credentials) throw new Error('the shared topology runs without ACL');
  const client = clientFor(topology, port, {
    ...credentials,
    retryStrategy: () => null,
    // The replication and Sentinel users may not run INFO, which the ready check sends.
    enableReadyCheck: user !== 'replica' && user !== 'sentinel',
  });
  client.on('error', () => undefined);
  return client;
}

async function withClient<T>(client: Redis, fn: (c: Redis) => Promise<T>): Promise<T> {
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

describe('the ACL users of the data nodes', () => {
  it('lets the app user write, read, WAIT for replicas and run the ready check', async () => {
    await withClient(as('app'), async (app) => {
      await app.set(`${prefix}app`, 'v');
      expect(await app.get(`${prefix}app`)).toBe('v');
      expect(Number(await app.call('WAIT', '1', '2000'))).toBeGreaterThanOrEqual(1);
      expect(await app.info('replication')).toMatch(/^role:master/m);
      await app.del(`${prefix}app`);
    });
  });

  it('lets the exporter user read INFO, CONFIG, LATENCY and the slow log', async () => {
    await withClient(as('exporter'), async (exporter) => {
      expect(await exporter.info()).toMatch(/^redis_version:/m);
      expect(await exporter.call('CONFIG', 'GET', 'maxclients')).toEqual(['maxclients', '10000']);
      await exporter.call('LATENCY', 'HISTOGRAM', 'set');
      await exporter.call('SLOWLOG', 'GET', '10');
      expect(await exporter.call('CLIENT', 'LIST')).toMatch(/user=redscope-exporter/);
    });
  });

  it('keeps the replication and Sentinel users working: both replicas online and seen by Sentinel', async () => {
    await withClient(as('admin'), async (admin) => {
      const info = await admin.info('replication');
      expect(info.match(/^slave\d+:.*state=online/gm)).toHaveLength(2);
      const clients = String(await admin.call('CLIENT', 'LIST'));
      expect(clients).toMatch(/user=replica .*cmd=replconf|flags=S.*user=replica/);
      expect(clients).toMatch(/user=sentinel/);
    });
  });

  it('stores password hashes only', async () => {
    await withClient(as('admin'), async (admin) => {
      const list = (await admin.call('ACL', 'LIST')) as string[];
      const text = list.join('\n');
      for (const user of Object.values(topology.users ?? {}))
        expect(text).not.toContain(user.password);
      expect(text).toMatch(/^user default off /m);
    });
  });

  describe('unhappy', () => {
    it('refuses every command of a client that does not authenticate (default is off)', async () => {
      await withClient(as('nobody'), async (anonymous) => {
        await expect(anonymous.get(`${prefix}x`)).rejects.toThrow(/NOAUTH/);
      });
      await withClient(as('nobody', portOf(topology, 'replica')), async (anonymous) => {
        await expect(anonymous.get(`${prefix}x`)).rejects.toThrow(/NOAUTH/);
      });
    });

    it('refuses a wrong password', async () => {
      const client = clientFor(topology, portOf(topology, 'master'), {
        username: 'app',
        password: 'not-the-password',
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      client.on('error', () => undefined);
      await withClient(client, async (c) => {
        await expect(c.get(`${prefix}x`)).rejects.toThrow(/WRONGPASS|NOAUTH|closed/);
      });
    });

    // ACL DRYRUN asks Redis whether the user may run a command without running it:
    // should the ACL ever regress, the shared topology is not flushed or demoted.
    const dryRun = (user: string, command: string[]) =>
      withClient(as('admin'), (admin) => admin.call('ACL', 'DRYRUN', user, ...command));

    it('refuses the app user anything dangerous', async () => {
      for (const command of [
        ['CONFIG', 'SET', 'maxclients', '1'],
        ['FLUSHALL'],
        ['KEYS', '*'],
        ['REPLICAOF', 'NO', 'ONE'],
      ]) {
        expect(await dryRun('app', command)).toMatch(/no permissions/);
      }
      expect(await dryRun('app', ['SET', `${prefix}x`, '1'])).toBe('OK');
    });

    it('refuses the exporter user any key access or write', async () => {
      await withClient(as('exporter'), async (exporter) => {
        await expect(exporter.get(`${prefix}x`)).rejects.toThrow(/NOPERM/);
        await expect(exporter.set(`${prefix}x`, '1')).rejects.toThrow(/NOPERM/);
      });
      expect(await dryRun('redscope-exporter', ['CONFIG', 'SET', 'maxclients', '1'])).toMatch(
        /no permissions/,
      );
    });

    it('refuses the replication and Sentinel users ordinary commands', async () => {
      for (const user of ['replica', 'sentinel'] as const) {
        await withClient(as(user), async (client) => {
          await expect(client.get(`${prefix}x`)).rejects.toThrow(/NOPERM/);
        });
      }
    });
  });
});
