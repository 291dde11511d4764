import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExporterConfig } from '../../exporter/config.js';
import { createExporterLogger } from '../../exporter/logger.js';
import { startExporter } from '../../exporter/server.js';
import { freePort } from '../../stack/ports.js';
import { clientFor, portOf, sharedTopology } from '../support/shared-topology.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';
import { type FakeSentinel, startFakeSentinel } from './support/fake-sentinel.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

const topology = sharedTopology();
const tls = topology.tls;
if (!tls) throw new Error('the shared topology runs TLS');
const exporterUser = topology.users?.exporter;
if (!exporterUser) throw new Error('the shared topology has ACL users');
const tlsFlags = { 'tls-ca': tls.caFile, 'tls-cert': tls.certFile, 'tls-key': tls.keyFile };
const sentinelUrl = (port: number) => `rediss://127.0.0.1:${port}`;

/** Waits until `check` holds, polling; fails naming `what` after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('/metrics through Sentinels (--sentinels, --master-name)', () => {
  const started: TestExporter[] = [];
  afterAll(async () => {
    for (const exporter of started) await exporter.close();
  });

  describe('happy', () => {
    it('scrapes the master the Sentinels name, logging in with --username and the password', async () => {
      const exporter = await startTestExporter(
        {
          sentinels: sentinelUrl(portOf(topology, 'sentinel')),
          'master-name': topology.masterName,
          username: exporterUser.username,
          ...tlsFlags,
        },
        { REDSCOPE_PASSWORD: exporterUser.password },
      );
      started.push(exporter);
      const { text } = await exporter.get('/metrics');
      const families = parseExposition(text);
      expect(sampleValue(families, 'redis_up', {})).toBe(1);
      expect(sampleValue(families, 'redis_connected_slaves', {})).toBe(2);
      expect(text).not.toContain(exporterUser.password);
    });

    it('keeps failover counts per exporter: a failover one exporter saw never shows on another in the process', async () => {
      const masterName = 'fake-master';
      const one = await startFakeSentinel(masterName);
      const other = await startFakeSentinel(masterName);
      const exporters: TestExporter[] = [];
      try {
        for (const fake of [one, other]) {
          exporters.push(
            await startTestExporter({
              sentinels: `redis://127.0.0.1:${fake.port}`,
              'master-name': masterName,
              'allow-target': ['redis://127.0.0.1:*'],
            } as never),
          );
        }
        const [watchingOne, watchingOther] = exporters as [TestExporter, TestExporter];
        await until('both exporters subscribed', () => one.subscribers + other.subscribers === 2);
        const failovers = async (exporter: TestExporter, sentinel: FakeSentinel) => {
          const { text } = await exporter.get(`/scrape?target=redis://127.0.0.1:${sentinel.port}`);
          return sampleValue(parseExposition(text), 'redscope_sentinel_failovers_total', {
            master_name: masterName,
          });
        };
        expect(await failovers(watchingOne, one)).toBe(0);
        expect(await failovers(watchingOther, other)).toBe(0);

        one.publish('+switch-master', `${masterName} 10.0.0.1 6379 10.0.0.2 6379`);
        await until('the first exporter counted the failover', async () => {
          return (await failovers(watchingOne, one)) === 1;
        });
        expect(await failovers(watchingOther, other)).toBe(0);
        // The count belongs to the exporter whose watch saw the event, not to the Sentinel scraped.
        expect(await failovers(watchingOther, one)).toBe(0);
      } finally {
        for (const exporter of exporters) await exporter.close();
        await one.close();
        await other.close();
      }
    });
  });

  describe('unhappy', () => {
    it('answers redis_up 0 within the budget when no Sentinel answers, one of them hung', async () => {
      const hung: Server = createServer(() => undefined);
      await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
      const hungPort = (hung.address() as { port: number }).port;
      try {
        const exporter = await startTestExporter({
          sentinels: `${sentinelUrl(hungPort)},${sentinelUrl(await freePort())}`,
          'master-name': topology.masterName,
          ...tlsFlags,
        });
        started.push(exporter);
        const { status, text, ms } = await exporter.get('/metrics', {
          'X-Prometheus-Scrape-Timeout-Seconds': '2',
        });
        expect(status).toBe(200);
        expect(sampleValue(parseExposition(text), 'redis_up', {})).toBe(0);
        expect(ms).toBeLessThan(2500);
      } finally {
        hung.close();
      }
    });

    it('fails to start, without subscribing to any Sentinel, when its port is taken', async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = (taken.address() as { port: number }).port;
      try {
        const config = loadExporterConfig({
          flags: {
            listen: `127.0.0.1:${port}`,
            sentinels: sentinelUrl(portOf(topology, 'sentinel', 2)),
            'master-name': topology.masterName,
            ...tlsFlags,
          },
          env: {},
        });
        await expect(startExporter(config, createExporterLogger('silent'))).rejects.toThrow(
          /EADDRINUSE/,
        );
        // A subscriber left behind would keep a failed exporter alive forever.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const sentinel = clientFor(topology, portOf(topology, 'sentinel', 2));
        try {
          expect(await sentinel.call('CLIENT', 'LIST')).not.toContain('redscope-exporter-events');
        } finally {
          sentinel.disconnect();
        }
      } finally {
        taken.close();
      }
    });
  });
});
