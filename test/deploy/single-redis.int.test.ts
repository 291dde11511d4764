import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClients, type RedisClients } from '../../client/index.js';
import { railwayRedisConfig } from '../../docs/examples/railway-connection.js';
import { freePorts } from '../../stack/ports.js';
import { packageRoot } from '../../stack/repo-paths.js';
import {
  info,
  LOOPBACK,
  type LoopbackService,
  onNode,
  startRailwayExporter,
  startService,
  until,
} from './support/loopback.js';
import { type Layout, loadLayout, localDirs } from './support/railway-layout.js';
import { startWriter } from './support/writer-load.js';

const run = promisify(execFile);

/** The bash block that follows `<!-- tested: NAME -->` in docs/railway.md. */
function documentedBlock(name: string): string {
  const doc = readFileSync(join(packageRoot(), 'docs', 'railway.md'), 'utf8');
  const marker = doc.indexOf(`<!-- tested: ${name} -->`);
  if (marker === -1) throw new Error(`docs/railway.md has no "tested: ${name}" block`);
  const block = /```bash\n([\s\S]*?)```/.exec(doc.slice(marker));
  if (!block?.[1]) throw new Error(`no bash block after "tested: ${name}"`);
  return block[1];
}

/** Runs documented blocks in one POSIX sh, as an operator would paste them into one shell. */
async function runDocumented(
  names: readonly string[],
  env: Record<string, string>,
): Promise<string> {
  const script = `set -eu\n${names.map(documentedBlock).join('\n')}`;
  const { stdout } = await run('sh', ['-c', script], {
    env: { PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}`, ...env },
    timeout: 20_000,
  });
  return stdout;
}

/** What the measurements found, printed once at the end (docs/railway.md quotes them). */
const measured: Record<string, number> = {};

/**
 * deploy/railway/single on loopback: one Redis (our image's entrypoint, TLS,
 * ACL users) and the app in URL mode, then the standby of docs/railway.md's
 * manual failover, rehearsed with the doc's own commands.
 */
describe('the single Redis layout: restart, then the documented manual failover', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'redscope-railway-single-'));
  let layout: Layout;
  let ports: number[] = [];
  let primary: LoopbackService;
  let standby: LoopbackService | undefined;
  let clients: RedisClients;
  let repointed: RedisClients | undefined;

  const urlOf = (port: number) => `rediss://${LOOPBACK}:${port}`;
  const appClients = (port: number) =>
    createRedisClients(railwayRedisConfig(layout.env('app', { REDSCOPE_REDIS_URL: urlOf(port) })));

  beforeAll(async () => {
    layout = await loadLayout('single', join(scratch, 'certs'), { domainOf: () => LOOPBACK });
    ports = await freePorts(3);
    primary = await startService(layout, scratch, 'redis', ports[0] ?? 0);
    await until('the primary to answer', () =>
      onNode(layout, primary.port, async (c) => (await c.ping()) === 'PONG'),
    );
    clients = appClients(primary.port);
    await clients.ready();
  }, 60_000);

  afterAll(async () => {
    await clients?.close();
    await repointed?.close();
    await primary?.process.stop();
    await standby?.process.stop();
    rmSync(scratch, { recursive: true, force: true });
    // The numbers docs/railway.md quotes, measured on this machine.
    console.info(`railway single-Redis measurements (ms): ${JSON.stringify(measured)}`);
  });

  it('(a) a restart of the single Redis (SIGTERM, as a redeploy sends): the client reconnects over TLS and the data is kept', async () => {
    const writer = startWriter(() => clients, 'railway:restart:');
    await until('writes', async () => writer.acknowledged.length > 20);
    const stoppedAt = performance.now();
    await primary.process.stop(10_000);
    await primary.restart();
    const restartedAt = performance.now();
    await until(
      'writes after the restart',
      async () => (writer.firstAckAfter(restartedAt) ?? 0) > 0,
      20_000,
    );
    await writer.stop();
    const lastBefore = writer.lastAckBefore(stoppedAt) ?? 0;
    measured.restartWriteGap = Math.round((writer.firstAckAfter(restartedAt) ?? 0) - lastBefore);
    measured.restartProcessDown = Math.round(restartedAt - stoppedAt);
    // Acknowledged before the shutdown = on disk (SHUTDOWN fsyncs the AOF): none lost.
    const beforeStop = writer.acknowledged.slice(
      0,
      writer.ackTimes.filter((t) => t <= stoppedAt).length,
    );
    const missing = await onNode(layout, primary.port, async (c) => {
      const values = await c.mget(...beforeStop.map((n) => `railway:restart:${n}`));
      return beforeStop.filter((_n, i) => values[i] === null);
    });
    expect(missing).toEqual([]);
    expect(clients.writer.status).toBe('ready');
  }, 60_000);

  it('(c) the manual failover of docs/railway.md: standby provisioned, in sync, primary lost, standby promoted, app repointed', async () => {
    const writer = startWriter(() => repointed ?? clients, 'railway:failover:');
    await until('writes', async () => writer.acknowledged.length > 20);

    // 1. Provision the standby service (a replica of redis) while the app writes.
    const provisionStart = performance.now();
    standby = await startService(layout, scratch, 'redis-standby', ports[1] ?? 0, {
      REDSCOPE_MASTER_PORT: String(primary.port),
    });
    const shell = {
      PRIMARY: `${LOOPBACK}:${primary.port}`,
      STANDBY: `${LOOPBACK}:${standby.port}`,
      REDSCOPE_TLS_DIR: join(localDirs(scratch, 'redis-standby').REDSCOPE_RUN_DIR, 'tls'),
      REDISCLI_AUTH: layout.passwords.admin,
    };
    // 2. The documented check, until the standby is up and has caught up.
    let check = '';
    await until(
      'the documented check to show the standby in sync',
      async () => {
        check = await runDocumented(['failover-setup', 'failover-check'], shell);
        const standbyOffset = Number(/^slave_repl_offset:(\d+)/m.exec(check)?.[1] ?? 0);
        const primaryOffset = Number(/^master_repl_offset:(\d+)/m.exec(check)?.[1] ?? 0);
        // Under writes the two offsets, read a few ms apart, differ by the writes in between.
        return (
          /^master_link_status:up/m.test(check) &&
          standbyOffset > 0 &&
          primaryOffset - standbyOffset < 64 * 1024
        );
      },
      20_000,
    );
    const provisionEnd = performance.now();
    measured.provisionLongestWriteGap = Math.round(writer.longestGap(provisionStart, provisionEnd));
    measured.provisionUntilInSync = Math.round(provisionEnd - provisionStart);
    expect(check).toMatch(/^role:slave/m);
    expect(check).toMatch(/^connected_slaves:1/m);

    // A marker the app wrote and the standby acknowledged (WAIT) just before the loss.
    await clients.writer.set('railway:failover:marker', 'before-the-loss');
    expect(await clients.writer.wait(1, 1000)).toBe(1);

    // 3. The primary is lost (kill -9: no shutdown, nothing flushed).
    const lostAt = performance.now();
    await primary.process.kill();

    // 4. Promote the standby with the documented commands.
    const promoteStart = performance.now();
    const promoted = await runDocumented(['failover-setup', 'failover-promote'], shell);
    const promoteEnd = performance.now();
    expect(promoted).toMatch(/^role:master/m);
    measured.promote = Math.round(promoteEnd - promoteStart);

    // 5. Repoint the app: on Railway a new REDSCOPE_REDIS_URL and a redeploy; here new clients.
    const repointStart = performance.now();
    repointed = appClients(standby.port);
    await repointed.ready();
    await until(
      'a write on the promoted standby',
      async () => (writer.firstAckAfter(repointStart) ?? 0) > 0,
    );
    const firstWrite = writer.firstAckAfter(repointStart) ?? 0;
    measured.repoint = Math.round(firstWrite - repointStart);
    measured.failoverWriteGapWithoutReaction = Math.round(
      firstWrite - (writer.lastAckBefore(lostAt) ?? 0),
    );
    await writer.stop();

    // The app reads, through the new URL, what it wrote before the loss.
    expect(await repointed.reader.get('railway:failover:marker')).toBe('before-the-loss');
    const ackedBeforeLoss = writer.acknowledged.slice(
      0,
      writer.ackTimes.filter((t) => t <= lostAt).length,
    );
    const values = await repointed.writer.mget(
      ...ackedBeforeLoss.map((n) => `railway:failover:${n}`),
    );
    measured.acknowledgedWritesLost = ackedBeforeLoss.filter((_n, i) => values[i] === null).length;
    // Asynchronous replication: at most the last few ms of writes can be missing, never older ones.
    const lastLost = ackedBeforeLoss.filter((_n, i) => values[i] === null).at(0);
    if (lastLost !== undefined) {
      const lostTime = writer.ackTimes[writer.acknowledged.indexOf(lastLost)] ?? 0;
      expect(lostAt - lostTime).toBeLessThan(1000);
    }

    // 6. Check with redscope: the exporter's view of the promoted standby.
    const exporter = await startRailwayExporter(
      scratch,
      layout.env('redscope-exporter', {
        REDSCOPE_REDIS_URL: urlOf(standby.port),
        REDSCOPE_ALLOW_TARGET: `rediss://${LOOPBACK}:*`,
      }),
      ports[2] ?? 0,
    );
    try {
      const verified = await runDocumented(['failover-verify'], {
        ...shell,
        EXPORTER: exporter.url,
      });
      expect(verified).toMatch(/^redis_up 1$/m);
      expect(verified).toMatch(/^redis_instance_info\{[^}]*role="master"/m);
      expect(verified).toMatch(/^redis_connected_slaves 0$/m);
    } finally {
      await exporter.stop();
    }

    // 7. A restart of the standby service keeps it the master (CONFIG REWRITE), with the data.
    await standby.process.stop(10_000);
    await standby.restart();
    await until('the restarted standby', () =>
      onNode(
        layout,
        standby?.port ?? 0,
        async (c) => (await info(c, 'replication')).get('role') === 'master',
      ),
    );
    expect(await onNode(layout, standby.port, (c) => c.get('railway:failover:marker'))).toBe(
      'before-the-loss',
    );
  }, 90_000);
});
