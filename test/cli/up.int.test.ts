import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../stack/repo-paths.js';

const bin = join(packageRoot(), 'bin', 'redscope.js');

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await delay(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('redscope up', () => {
  let child: ChildProcess | undefined;
  // Ctrl-C first, so a failing test still lets up stop what it started; SIGKILL of up
  // itself would orphan its servers.
  afterAll(async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGINT');
    await Promise.race([exited, delay(20_000)]);
    if (running.exitCode === null) running.kill('SIGKILL');
  });

  it('starts every part, scrapes every target, and stops every process on Ctrl-C', async () => {
    expect(
      existsSync(join(packageRoot(), 'dist', 'cli', 'main.js')),
      'run `npm run build` first',
    ).toBe(true);
    const started = spawn(process.execPath, [bin, 'up', '--demo-users', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    let out = '';
    let err = '';
    started.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    started.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => started.once('exit', resolve));

    await until('"redscope is up"', 60_000, async () => {
      if (started.exitCode !== null) throw new Error(`up exited early:\n${err}`);
      return out.includes('redscope is up') && out.includes('Ctrl-C') ? true : undefined;
    });
    const url = (name: string) => {
      const line = out.split('\n').find((l) => l.trim().startsWith(name));
      const found = line?.match(/(https?|rediss):\/\/127\.0\.0\.1:\d+\S*/)?.[0];
      if (!found) throw new Error(`no ${name} URL in:\n${out}`);
      return found;
    };
    const prometheus = url('Prometheus ');
    const ports = [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));

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

    started.kill('SIGINT');
    expect(await exited).toBe(0);
    for (const port of ports) expect(await listening(port), `port ${port} still open`).toBe(false);
  });
});
