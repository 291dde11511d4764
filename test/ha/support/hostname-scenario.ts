/**
 * The hostname topology scenario, run as its own process inside the network
 * namespace where the names resolve (test/ha/hostnames.int.test.ts starts it
 * with `ip netns exec <namespace> node --import tsx <this file>`): a TLS
 * topology on `::1` with every node addressed by name, the client and the
 * exporter on it, and a kill -9 of the master. It prints one line,
 * `HOSTNAME_SCENARIO <json>`, of what it observed; the test asserts on that.
 * Progress goes to stderr. Everything it starts it stops, also on failure.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Redis } from 'ioredis';
import { RedisConnectError } from '../../../client/connection/connect-errors.js';
import { dialedHost } from '../../../client/connection/dialed-address.js';
import { createRedisClients, type RedisClients } from '../../../client/index.js';
import { createLogger } from '../../../client/logging/logger.js';
import { RedisTopology } from '../../../stack/topology.js';
import { capturedLogs } from '../../client/support/captured-logs.js';
import { startTestExporter, type TestExporter } from '../../exporter/support/exporter-harness.js';
import { parseExposition, sampleValue } from '../../exporter/support/parse-exposition.js';
import { RESULT_PREFIX, UNCERTIFIED_NAME, UNRESOLVABLE_NAME } from './hostname-names.js';
import { startLoad, waitFor } from './load.js';

const progress = (message: string) => process.stderr.write(`[hostname scenario] ${message}\n`);

/** `field:value` lines of an INFO section. */
function infoFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** A flat `[k1, v1, k2, v2, ...]` Sentinel reply as a record. */
function record(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const list = Array.isArray(flat) ? flat : [];
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = String(list[i + 1]);
  return out;
}

async function withClient<T>(client: Redis, fn: (client: Redis) => Promise<T>): Promise<T> {
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** The `addr=` of the connection named `name` in CLIENT LIST of the node on `port`. */
async function clientAddr(topology: RedisTopology, port: number, name: string): Promise<string[]> {
  return withClient(topology.connect(port), async (c) => {
    const list = String(await c.call('CLIENT', 'LIST'));
    return list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /\baddr=(\S+)/.exec(line)?.[1] ?? '');
  });
}

/** How a TLS connection to the master dialled by `host` ends: `ok`, or the error code. */
async function tlsVerdict(topology: RedisTopology, host: string, port: number): Promise<string> {
  const client = topology.connect(port, { host, connectTimeout: 2000 });
  // The command fails with "Connection is closed."; the TLS error comes as an 'error' event.
  let cause: { code?: string; message?: string } | undefined;
  client.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    return (await client.ping()) === 'PONG' ? 'ok' : 'no PONG';
  } catch (error) {
    const e = cause ?? (error as { code?: string; message?: string });
    return e.code ?? e.message ?? String(error);
  } finally {
    client.disconnect();
  }
}

async function run(): Promise<Record<string, unknown>> {
  const observed: Record<string, unknown> = {};
  const started = performance.now();
  // The fast failover timings of the other HA tests: down-after 1200 ms comes from the shipped
  // sentinel.conf; a shorter failover-timeout lets a stalled election retry within the test.
  const topology = await RedisTopology.start({
    addresses: 'hostnames',
    tls: true,
    sentinelOverrides: { 'sentinel failover-timeout': 'redscope 2000' },
  });
  let clients: RedisClients | undefined;
  let exporter: TestExporter | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    observed.startMs = Math.round(performance.now() - started);
    const description = topology.describe();
    observed.nodes = description.nodes.map(({ name, role, host, port }) => ({
      name,
      role,
      host,
      port,
    }));
    const tls = description.tls;
    const app = description.users?.app;
    const exporterUser = description.users?.exporter;
    if (!tls || !app || !exporterUser) throw new Error('the topology runs TLS with ACL users');
    progress(`topology up in ${observed.startMs} ms`);

    // Replication by name.
    const masterPort = topology.port('redis-0');
    observed.replicas = await Promise.all(
      topology.names('replica').map(async (name) =>
        withClient(topology.connect(topology.port(name)), async (c) => {
          const info = infoFields(await c.info('replication'));
          return {
            name,
            masterHost: info.master_host,
            masterPort: Number(info.master_port),
            link: info.master_link_status,
          };
        }),
      ),
    );
    observed.masterSeesReplicas = await withClient(topology.connect(masterPort), async (c) => {
      const info = infoFields(await c.info('replication'));
      return Object.entries(info)
        .filter(([key]) => /^slave\d+$/.test(key))
        .map(([, value]) => /\bip=([^,]+)/.exec(value)?.[1]);
    });

    // Sentinel discovery by name.
    const sentinelPort = topology.port('sentinel-0');
    observed.sentinels = await withClient(topology.connect(sentinelPort), async (c) => ({
      master: await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', topology.masterName),
      replicas: ((await c.call('SENTINEL', 'REPLICAS', topology.masterName)) as unknown[])
        .map(record)
        .map((r) => `${r.ip}:${r.port}`),
      peers: ((await c.call('SENTINEL', 'SENTINELS', topology.masterName)) as unknown[])
        .map(record)
        .map((r) => r.ip),
    }));

    // TLS checks the name dialled: the node's name verifies, its IP and an uncertified name do not.
    observed.tls = {
      byName: await tlsVerdict(topology, 'redis-0.redscope.test', masterPort),
      byIp: await tlsVerdict(topology, '::1', masterPort),
      byUncertifiedName: await tlsVerdict(topology, UNCERTIFIED_NAME, masterPort),
    };

    // The client: Sentinels given by name, TLS verified, the app user.
    const { stream, lines } = capturedLogs();
    const sentinels = topology
      .names('sentinel')
      .map((name) => `${topology.host(name)}:${topology.port(name)}`);
    observed.clientSentinels = sentinels;
    clients = createRedisClients(
      {
        sentinels,
        masterName: topology.masterName,
        tls: { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile },
        username: app.username,
        password: app.password,
      },
      { logger: createLogger({ destination: stream, level: 'info' }) },
    );
    await clients.ready();
    const socket = clients.writer.stream as TLSSocket;
    observed.writerBefore = {
      dialed: dialedHost(socket as Socket),
      remoteAddress: socket.remoteAddress,
      remoteFamily: socket.remoteFamily,
      authorized: socket.authorized,
    };
    await clients.writer.set('hostnames:first', 'by-name');
    observed.firstWriteOnMaster = await withClient(topology.connect(masterPort), (c) =>
      c.get('hostnames:first'),
    );
    observed.writerAddrOnMaster = await clientAddr(topology, masterPort, 'redscope-writer');
    progress('client connected by name');

    // The exporter: --sentinels by name; /scrape by name under an allow-list pattern on names.
    exporter = await startTestExporter(
      {
        listen: '[::1]:0',
        sentinels: topology
          .names('sentinel')
          .map((name) => `rediss://${topology.host(name)}:${topology.port(name)}`)
          .join(','),
        'master-name': topology.masterName,
        username: exporterUser.username,
        'allow-target': ['rediss://*.redscope.test:*'],
        'tls-ca': tls.caFile,
        'tls-cert': tls.certFile,
        'tls-key': tls.keyFile,
      },
      { REDSCOPE_PASSWORD: exporterUser.password },
    );
    const runIdOf = (port: number) =>
      withClient(topology.connect(port), async (c) => infoFields(await c.info('server')).run_id);
    const metrics = async () => {
      const families = parseExposition((await (exporter as TestExporter).get('/metrics')).text);
      const info = families.get('redis_instance_info')?.samples[0]?.labels ?? {};
      const replicas = (families.get('redis_connected_slave_offset_bytes')?.samples ?? []).map(
        (s) => s.labels.slave_ip,
      );
      return { up: sampleValue(families, 'redis_up'), runId: info.run_id, replicas };
    };
    const sentinelTarget = `rediss://${topology.host('sentinel-0')}:${sentinelPort}`;
    const scrapeSentinel = async () => {
      const families = parseExposition(
        (
          await (exporter as TestExporter).get(
            `/scrape?target=${encodeURIComponent(sentinelTarget)}`,
          )
        ).text,
      );
      const info = families.get('redscope_sentinel_master_info')?.samples[0]?.labels ?? {};
      return {
        up: sampleValue(families, 'redis_up'),
        masterAddress: info.master_address,
        failovers: sampleValue(families, 'redscope_sentinel_failovers_total', {
          master_name: topology.masterName,
        }),
      };
    };
    observed.exporterUrl = exporter.url;
    observed.exporterBefore = {
      metrics: { ...(await metrics()), masterRunId: await runIdOf(masterPort) },
      sentinel: await scrapeSentinel(),
    };
    const ipTarget = encodeURIComponent(`rediss://[::1]:${masterPort}`);
    observed.scrapeByIpStatus = (await exporter.get(`/scrape?target=${ipTarget}`)).status;

    // A name that resolves nowhere: named in the error, within seconds, by the client and the exporter.
    const nope = `rediss://${UNRESOLVABLE_NAME}:6379`;
    {
      const t0 = performance.now();
      const { stream: quiet } = capturedLogs();
      const lost = createRedisClients(
        { url: nope, tls: { caFile: tls.caFile } },
        { logger: createLogger({ destination: quiet }) },
      );
      try {
        await lost.ready(8000);
        observed.unresolvableClient = { error: 'none' };
      } catch (error) {
        observed.unresolvableClient = {
          reason: error instanceof RedisConnectError ? error.reason : 'not a RedisConnectError',
          message: (error as Error).message,
          ms: Math.round(performance.now() - t0),
        };
      } finally {
        await lost.close();
      }
    }
    {
      const t0 = performance.now();
      const response = await exporter.get(`/scrape?target=${encodeURIComponent(nope)}`);
      const families = parseExposition(response.text);
      observed.unresolvableExporter = {
        status: response.status,
        up: sampleValue(families, 'redis_up'),
        lastError: families.get('redis_exporter_last_scrape_error')?.samples[0]?.labels.err,
        ms: Math.round(performance.now() - t0),
        logged: exporter.logs
          .filter((line) => line.msg === 'target did not answer')
          .map((line) => line.err),
      };
    }
    progress('unresolvable name checked');

    // kill -9 of the master under durable writes.
    load = startLoad(clients, 'hostnames');
    await waitFor('durable writes flowing', () => (load?.snapshot().acknowledged.length ?? 0) > 20);
    const killedAt = Date.now();
    await topology.kill('redis-0');
    let newMaster: { host: string; port: number } | undefined;
    await waitFor('a new master named by the Sentinels', async () => {
      newMaster = await topology.currentMasterAddress().catch(() => undefined);
      return newMaster !== undefined && newMaster.port !== masterPort;
    });
    const switchedAt = Date.now();
    await waitFor(
      'a durable write acknowledged after the switch',
      () => (load?.snapshot().ackTimes.at(-1) ?? 0) > switchedAt,
    );
    observed.failover = {
      switchMs: switchedAt - killedAt,
      writeGapMs: load.unavailabilityAround(killedAt),
      newMaster,
    };
    const report = await load.stop();
    load = undefined;
    const next = newMaster as { host: string; port: number };
    const nextSocket = clients.writer.stream as TLSSocket;
    observed.writerAfter = {
      dialed: dialedHost(nextSocket as Socket),
      remoteAddress: nextSocket.remoteAddress,
      remotePort: nextSocket.remotePort,
      remoteFamily: nextSocket.remoteFamily,
      authorized: nextSocket.authorized,
    };
    observed.writerAddrOnNewMaster = await clientAddr(topology, next.port, 'redscope-writer');
    const lastKey = report.acknowledged.at(-1) as string;
    observed.lastAckOnNewMaster = await withClient(topology.connect(next.port), async (c) => ({
      key: lastKey,
      value: await c.get(lastKey),
      role: infoFields(await c.info('replication')).role,
    }));
    observed.durableAfter = await clients
      .writeDurably((tx) => tx.set('hostnames:after', 'durable'), { timeoutMs: 1000 })
      .then(
        (result) => ({ ok: true, result }),
        (error: Error) => ({ ok: false, error: error.message }),
      );
    observed.switchLogged = lines
      .filter((line) => line.event === 'redis.sentinel_switch_master')
      .map((line) => ({ from: line.from, to: line.to }));
    observed.load = {
      acknowledged: report.acknowledged.length,
      writeErrors: report.writeErrors,
      readErrors: report.readErrors.length,
    };
    progress(`failed over to ${next.host}:${next.port}`);

    // The exporter follows by name: /metrics scrapes the new master, the Sentinel families switch.
    const newRunId = await runIdOf(next.port);
    let after: Awaited<ReturnType<typeof metrics>> | undefined;
    await waitFor('the exporter /metrics to scrape the new master', async () => {
      after = await metrics();
      return after.up === 1 && after.runId === newRunId;
    });
    let sentinelAfter: Awaited<ReturnType<typeof scrapeSentinel>> | undefined;
    await waitFor('the exporter to report the switch from the Sentinels', async () => {
      sentinelAfter = await scrapeSentinel();
      return (
        sentinelAfter.masterAddress === `${next.host}:${next.port}` && sentinelAfter.failovers === 1
      );
    });
    observed.exporterAfter = {
      metrics: { ...after, masterRunId: newRunId },
      sentinel: sentinelAfter,
    };

    // The old master comes back: the Sentinels make it a replica of the new one, by name.
    const rejoinStarted = Date.now();
    await topology.restart('redis-0');
    let rejoined: Record<string, string> = {};
    await waitFor('the old master to replicate from the new one', async () => {
      rejoined = await withClient(topology.connect(masterPort), async (c) =>
        infoFields(await c.info('replication')),
      ).catch(() => ({}));
      return rejoined.role === 'slave' && rejoined.master_link_status === 'up';
    });
    observed.oldMasterRejoined = {
      ms: Date.now() - rejoinStarted,
      role: rejoined.role,
      masterHost: rejoined.master_host,
      masterPort: Number(rejoined.master_port),
      link: rejoined.master_link_status,
    };
    observed.totalMs = Math.round(performance.now() - started);
    return observed;
  } finally {
    await load?.stop();
    await clients?.close();
    await exporter?.close();
    await topology.stop();
  }
}

try {
  const observed = await run();
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(observed)}\n`);
  process.exitCode = 0;
} catch (error) {
  process.stderr.write(`[hostname scenario] failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
}
