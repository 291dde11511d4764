import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { listening, startUp, type UpProcess, until } from './support/up-process.js';

describe('redscope up', () => {
  let up: UpProcess | undefined;
  // Ctrl-C first, so a failing test still lets up stop what it started; SIGKILL of up
  // itself would orphan its servers.
  afterAll(() => up?.stop());

  it('starts every part, scrapes every target, and stops every process on Ctrl-C', async () => {
    up = await startUp(['--demo-users', '2']);
    const { url, out: printed } = up;
    const out = printed();
    const prometheus = url('Prometheus ');
    const ports = up.ports();

    // Every scrape job of the shipped prometheus.yml answers: 3 data nodes, 3 Sentinels,
    // the exporter itself and the demo app.
    const targets = await until('every target up', 45_000, async () => {
      const body = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: { job: string }; health: string }[] };
      };
      const active = body.data.activeTargets;
      return active.length === 8 && active.every((t) => t.health === 'up') ? active : undefined;
    });
    expect(new Set(targets.map((t) => t.labels.job))).toEqual(
      new Set(['redis', 'redis-sentinel', 'redscope-exporter', 'redscope-apps']),
    );
    // The demo app validates sessions through the client, so its metrics move.
    const demoMetrics = await (await fetch(`${url('demo /metrics')}`)).text();
    expect(demoMetrics).toMatch(/^redscope_session_cache_(hits|misses)_total \d+/m);
    // The demo warmed its session cache on start (from an empty usage record: nothing to do).
    const startRun = demoMetrics
      .split('\n')
      .find((l) => l.startsWith('redscope_client_warming_runs_total{') && l.includes('"done"'));
    expect(startRun).toContain('namespace="demo:session:"');
    expect(startRun).toMatch(/ 1$/);

    // The `redscope warm` command it prints works on the stack, as the app user: the plan
    // once the demo has recorded usage (every 10 s), then the run itself.
    const warmLine = out.split('\n').find((l) => l.includes(' warm --namespace demo:session: '));
    if (!warmLine) throw new Error(`no redscope warm command in:\n${out}`);
    const words = warmLine.trim().split(' ');
    const env = Object.fromEntries(
      words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=', 2) as [string, string]),
    );
    const [program, ...args] = words.filter((w) => !/^[A-Z_]+=/.test(w)) as [string, ...string[]];
    const warm = (argv: readonly string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(program, argv, {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
        });
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        child.once('exit', (code) => resolve({ code, out: stdout, err: stderr }));
      });
    const plan = await until('a usage record to plan from', 30_000, async () => {
      const result = await warm(args);
      if (result.code === 0) return result;
      if (!result.err.includes('no usage record')) throw new Error(result.err);
      return undefined;
    });
    expect(plan.out).toContain('redscope warm --dry-run: the plan; nothing is written');
    expect(plan.out).toMatch(/keys: +[1-9]\d*, the top of the usage record/);
    const run = await warm(args.filter((a) => a !== '--dry-run'));
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    // The demo's sessions are cached already (nothing was lost), so most are skipped.
    expect(run.out).toMatch(/done in [\d.]+ s: warmed \d+, skipped \d+ .*failed 0, errors 0/);

    up.child.kill('SIGINT');
    expect(await up.exited).toBe(0);
    for (const port of ports) expect(await listening(port), `port ${port} still open`).toBe(false);
  });
});
