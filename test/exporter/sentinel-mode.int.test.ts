import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExporterConfig } from '../../exporter/config.js';
import { createExporterLogger } from '../../exporter/logger.js';
import { startExporter } from '../../exporter/server.js';
import { freePort } from '../../stack/ports.js';
import { clientFor, portOf, sharedTopology } from '../support/shared-topology.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

const topology = sharedTopology();
const tls = topology.tls;
if (!tls) throw new Error('the shared topology runs TLS');
const exporterUser = topology.users?.exporter;
if (!exporterUser) throw new Error('the shared topology has ACL users');
const tlsFlags = { 'tls-ca': tls.caFile, 'tls-cert': tls.certFile, 'tls-key': tls.keyFile };
const sentinelUrl = (port: number) => `rediss://127.0.0.1:${port}`;

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
