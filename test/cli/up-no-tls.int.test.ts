import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readStackState } from '../../stack/stack-state.js';
import { runCli } from './support/run-cli.js';
import { listening, startUp, type UpProcess, until } from './support/up-process.js';

describe('redscope up --no-tls', () => {
  let up: UpProcess | undefined;
  afterAll(() => up?.stop(), 60_000);

  it('runs every part over plain TCP, and the drills take their defaults from its stack.json', async () => {
    up = await startUp(['--no-tls', '--rate', '5']);
    const out = up.out();
    expect(out).toMatch(/^ +redis-0 \(master\) +redis:\/\/127\.0\.0\.1:\d+$/m);
    expect(out).not.toContain('rediss://');
    const state = readStackState(up.stateDir);
    if (!state) throw new Error('no stack.json');
    expect(state.tls).toBeUndefined();
    // The shipped prometheus.yml with its rediss:// targets turned into redis:// ones: every
    // target is scraped, through the exporter's allow-list and credentials.
    const prometheus = state.urls.prometheus;
    await until('every target up', 60_000, async () => {
      const body = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as {
        data: { activeTargets: { health: string; scrapeUrl: string }[] };
      };
      const active = body.data.activeTargets;
      return active.length === 9 && active.every((t) => t.health === 'up') ? true : undefined;
    });
    const config = readFileSync(join(up.stateDir, 'run', 'prometheus', 'prometheus.yml'), 'utf8');
    expect(config).not.toContain('rediss://');
    // The demo validates sessions over plain TCP.
    await until('session validations', 30_000, async () => {
      const text = await (await fetch(`${state.urls.demo}/metrics`)).text();
      return /^redscope_session_cache_hits_total [1-9]/m.test(text) ? true : undefined;
    });

    // A planned failover with no flag at all: Sentinels and master name from stack.json.
    const failover = await runCli(['failover', '--state-dir', up.stateDir]);
    expect(failover.err).not.toMatch(/error|refused/i);
    expect(failover.code).toBe(0);
    expect(failover.out).toMatch(
      /^failover of redscope: 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ in [\d.]+ s$/m,
    );

    const ports = up.ports();
    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
    for (const port of ports) expect(await listening(port), `port ${port} still open`).toBe(false);
  });
});
