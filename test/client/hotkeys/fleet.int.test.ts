import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../stack/partition-faults.js';
import { packageRoot } from '../../../stack/repo-paths.js';
import { clientsConfigFor } from '../../../stack/topology-clients.js';
import { startTestExporter, type TestExporter } from '../../exporter/support/exporter-harness.js';
import { portOf, sharedTopology } from '../../support/shared-topology.js';

const topology = sharedTopology();
const exporterUser = topology.users?.exporter;
if (!exporterUser || !topology.tls) throw new Error('the shared topology has TLS and ACL users');
const FIXTURE = join(packageRoot(), 'test', 'client', 'hotkeys', 'fixtures', 'hot-key-app.ts');
const SECRET = randomBytes(18).toString('base64url');
const SESSION_ID = randomBytes(32).toString('hex');
/** Each process alone stays under the 1,000/min threshold; together they are over it. */
const RATE = 700;

interface AppProcess {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly output: () => string;
}

function startApp(service: string): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: packageRoot(),
    env: {
      ...process.env,
      FIXTURE_CONFIG: JSON.stringify(clientsConfigFor(topology)),
      FIXTURE_SERVICE: service,
      FIXTURE_RATE: String(RATE),
      FIXTURE_SESSION_ID: SESSION_ID,
      REDSCOPE_HOTKEYS_SECRET: SECRET,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  child.stderr?.on('data', (chunk) => {
    text += String(chunk);
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${service} exited with ${code}: ${text}`)));
    child.stdout?.on('data', (chunk) => {
      text += String(chunk);
      pending += String(chunk);
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) {
        if (!line.trim()) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        if (parsed.fixture === 'ready') resolve({ child, lines, output: () => text });
      }
    });
  });
}

function stop(app: AppProcess, signal: NodeJS.Signals): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    app.child.once('exit', () => resolve());
    app.child.kill(signal);
  });
}

/** The value of a series on the exporter's /metrics, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('hot keys across a fleet of app processes', () => {
  let exporter: TestExporter;
  const apps: AppProcess[] = [];
  const master = topology.nodes.find((n) => n.role === 'master');

  beforeAll(async () => {
    exporter = await startTestExporter(
      {
        'redis-url': `rediss://${topology.host}:${portOf(topology, 'master')}`,
        username: exporterUser.username,
        'tls-ca': topology.tls?.caFile,
        'tls-cert': topology.tls?.certFile,
        'tls-key': topology.tls?.keyFile,
      },
      { REDSCOPE_PASSWORD: exporterUser.password },
    );
    apps.push(...(await Promise.all([startApp('web-a'), startApp('web-b')])));
  }, 30_000);

  afterAll(async () => {
    for (const app of apps) await stop(app, 'SIGKILL');
    await exporter?.close();
  });

  it('merges both processes: the key is hot fleet-wide though each sees it under the threshold', async () => {
    expect(master).toBeDefined();
    const series = 'redscope_hotkey_processes{key="tenant:acme:settings"}';
    let text = '';
    await waitUntil(
      'both processes in the merged list',
      async () => {
        text = (await exporter.get('/metrics')).text;
        return sample(text, series) === 2;
      },
      15_000,
    );
    const rate = sample(text, 'redscope_hotkey_rate_per_minute{key="tenant:acme:settings"}');
    expect(rate).toBeGreaterThan(RATE * 2 * 0.7);
    expect(rate).toBeLessThan(RATE * 2 * 1.3);
    expect(sample(text, 'redscope_hotkey_over_threshold{key="tenant:acme:settings"}')).toBe(1);
    expect(sample(text, 'redscope_hotkey_reports')).toBe(2);
    // The session key is in the list too, under its redacted name only.
    expect(text).toMatch(/redscope_hotkey_processes\{key="app:session:#[0-9a-f]{10}"\} 2/);
  });

  it("drops a killed process's report once it expires", async () => {
    const [first] = apps;
    if (!first) throw new Error('no app');
    await stop(first, 'SIGKILL');
    let text = '';
    await waitUntil(
      "the killed process's report to expire",
      async () => {
        text = (await exporter.get('/metrics')).text;
        return sample(text, 'redscope_hotkey_reports') === 1;
      },
      10_000,
    );
    expect(sample(text, 'redscope_hotkey_processes{key="tenant:acme:settings"}')).toBe(1);
    expect(sample(text, 'redscope_hotkey_over_threshold{key="tenant:acme:settings"}')).toBe(0);
  });

  it('lets no raw session id reach /metrics, the logs, the app metrics or the spans', async () => {
    const second = apps[1];
    if (!second) throw new Error('no app');
    const exporterText = (await exporter.get('/metrics')).text;
    await stop(second, 'SIGTERM');
    const out = second.output();
    const appMetrics = second.lines.find((l) => typeof l.metrics === 'string')?.metrics as string;
    const spans = second.lines.filter((l) => l.span !== undefined);
    // Positive controls: each place did receive the session key, in its redacted form.
    expect(appMetrics).toMatch(/redscope_client_hotkey_rate_per_minute\{key="app:session:#/);
    expect(spans.length).toBeGreaterThan(10);
    expect(JSON.stringify(spans)).toContain('app:session:<redacted>');
    for (const [where, text] of [
      ['the exporter /metrics', exporterText],
      ['the app output (logs, metrics, spans)', out],
    ] as const) {
      expect(text.includes(SESSION_ID), where).toBe(false);
      expect(text.includes(SESSION_ID.slice(0, 16)), where).toBe(false);
    }
  });
});
