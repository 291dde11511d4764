import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAlertmanager } from '../../stack/alertmanager-server.js';
import { NodeStartError } from '../../stack/errors.js';
import { freePort } from '../../stack/ports.js';
import { startPrometheus } from '../../stack/prometheus-server.js';

const dir = mkdtempSync(join(tmpdir(), 'redscope-http-services-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('starting Prometheus and Alertmanager as child processes', () => {
  it('starts Prometheus, answers its API, and leaves no process after stop', async () => {
    const configFile = file('prometheus.yml', 'global:\n  scrape_interval: 5s\n');
    const prometheus = await startPrometheus({
      configFile,
      dir: join(dir, 'p1'),
      port: await freePort(),
    });
    try {
      const body = (await (await fetch(`${prometheus.url}/api/v1/status/buildinfo`)).json()) as {
        status: string;
      };
      expect(body.status).toBe('success');
    } finally {
      await prometheus.stop();
    }
    expect(prometheus.process.running).toBe(false);
  });

  it('starts Alertmanager with clustering off and answers its status API', async () => {
    const configFile = file(
      'alertmanager.yml',
      'route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n',
    );
    const alertmanager = await startAlertmanager({
      configFile,
      dir: join(dir, 'a1'),
      port: await freePort(),
    });
    try {
      const status = (await (await fetch(`${alertmanager.url}/api/v2/status`)).json()) as {
        cluster: { status: string };
      };
      expect(status.cluster.status).toBe('disabled');
    } finally {
      await alertmanager.stop();
    }
  });

  describe('unhappy', () => {
    it('fails fast with the log line that names a broken Prometheus config', async () => {
      const configFile = file('broken.yml', 'global:\n  scrape_interval: often\n');
      const started = Date.now();
      const attempt = startPrometheus({ configFile, dir: join(dir, 'p2'), port: await freePort() });
      await expect(attempt).rejects.toThrow(NodeStartError);
      await expect(attempt).rejects.toThrow(/prometheus failed to start[\s\S]*often/);
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });
});
