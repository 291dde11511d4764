/**
 * The whole stack, end to end, as `npm start` runs it: `redscope up` with its
 * real Redis, Sentinels, exporter, Prometheus (the shipped rules), Alertmanager
 * (the shipped routing) and the demo app under its default load, with the
 * loopback PagerDuty, Slack and trace receivers. One stack, in order: five
 * healthy minutes (every dashboard query has data, nothing pending or firing),
 * a maintenance silence, a killed master, and the stop.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultToPage, killMasterAndWaitForPage } from '../../bench/support/fault-to-page.js';
import { promApi, promQuery } from '../../stack/prometheus-api.js';
import { packageRoot } from '../../stack/repo-paths.js';
import { readStackState, type StackState } from '../../stack/stack-state.js';
import { queriesWithoutData, recordingRulesWithoutData } from '../bundle/support/dashboard-live.js';
import { runCli } from '../cli/support/run-cli.js';
import { delay, listening, startUp, type UpProcess, until } from '../cli/support/up-process.js';

/** The bar: a healthy stack stays quiet this long. */
const HEALTHY_MS = 5 * 60_000;
/** Rate windows (1m) and the recording rules built on them need this much history. */
const HISTORY_MS = 100_000;

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

const prom = <T>(state: StackState, path: string) => promApi<T>(state.urls.prometheus, path);

const query = (state: StackState, promql: string) => promQuery(state.urls.prometheus, promql);

const alertsNow = (state: StackState) =>
  prom<{ alerts: PromAlert[] }>(state, '/api/v1/alerts').then((data) => data.alerts);

/** What the loopback PagerDuty and Slack got so far. */
async function notifications(state: StackState) {
  const response = await fetch(`${state.urls.receivers}/received`);
  return (await response.json()) as {
    pagerduty: { body: { payload: { summary: string } }; receivedAt: number }[];
    slack: { body: { attachments: { title: string }[] }; receivedAt: number }[];
  };
}

/** The repository file a runbook URL points at (`.../blob/main/runbooks/X.md` -> runbooks/X.md). */
function runbookFile(url: string): string {
  const path = /\/blob\/[^/]+\/(runbooks\/[\w-]+\.md)$/.exec(url)?.[1];
  if (!path) throw new Error(`not a runbook link: ${url}`);
  return join(packageRoot(), path);
}

/** The pid of the process whose command line names `needle` (a redis-sentinel's title names its address). */
function pidOf(needle: string): number {
  const line = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.includes(needle) && !l.includes('ps -eo'));
  const pid = Number(line?.trim().split(/\s+/)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no process names ${needle}`);
  return pid;
}

describe('redscope up, end to end', () => {
  let up: UpProcess | undefined;
  let state: StackState;
  let startedAt = 0;
  const stack = () => {
    if (!up) throw new Error('the stack did not start');
    return up;
  };

  beforeAll(async () => {
    startedAt = Date.now();
    up = await startUp([]);
    const found = readStackState(up.stateDir);
    if (!found) throw new Error(`no stack.json in ${up.stateDir}`);
    state = found;
  }, 120_000);
  // Ctrl-C first, so a failed test still lets up stop what it started.
  afterAll(() => up?.stop(), 60_000);

  it('stays quiet for 5 minutes while every dashboard query, recording rule, hot key, warming run and trace has data', async () => {
    const printed = stack().out();
    expect(printed).toContain('redscope is up');
    expect(printed).toMatch(new RegExp(`^ +logs +${stack().stateDir}/logs$`, 'm'));

    // Every scrape job answers: data nodes, Sentinels, the exporter, the demo, Alertmanager.
    const jobs = await until('every target up', 60_000, async () => {
      const { activeTargets } = await prom<{
        activeTargets: { labels: { job: string }; health: string }[];
      }>(state, '/api/v1/targets');
      return activeTargets.length >= 8 && activeTargets.every((t) => t.health === 'up')
        ? new Set(activeTargets.map((t) => t.labels.job))
        : undefined;
    });
    expect(jobs).toEqual(
      new Set(['redis', 'redis-sentinel', 'redscope-exporter', 'redscope-apps', 'alertmanager']),
    );

    // Sample the alerts all along: nothing may fire at any time while the stack is healthy.
    const seen: { at: number; name: string; state: string }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const alert of await alertsNow(state).catch(() => [])) {
          seen.push({ at: Date.now(), name: alert.labels.alertname ?? '?', state: alert.state });
        }
        await delay(5000);
      }
    })();

    try {
      // One demo request followed by its correlation id: the app's log line names its trace,
      // and the trace receiver has that trace, with the request's span and its Redis spans.
      const correlationId = `e2e-${Date.now()}`;
      const login = await fetch(`${state.urls.demo}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'user-1', password: 'password-1' }),
      });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const me = await fetch(`${state.urls.demo}/api/me`, {
        headers: { authorization: `Bearer ${token}`, 'x-request-id': correlationId },
      });
      expect(me.status).toBe(200);
      expect(me.headers.get('x-request-id')).toBe(correlationId);
      const logLine = await until('the request in the demo log', 20_000, async () => {
        const lines = readFileSync(join(state.logDir, 'demo.log'), 'utf8').split('\n');
        const line = lines.find(
          (l) => l.includes(`"correlation_id":"${correlationId}"`) && l.includes('"http.request"'),
        );
        return line ? (JSON.parse(line) as { trace_id?: string; route?: string }) : undefined;
      });
      expect(logLine.route).toBe('/api/me');
      expect(logLine.trace_id).toMatch(/^[0-9a-f]{32}$/);
      // Spans arrive in batches: wait for the request's server span and a Redis span under it.
      type Span = {
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes: Record<string, unknown>;
      };
      const trace = await until(
        'the request and its Redis spans at the receiver',
        30_000,
        async () => {
          const response = await fetch(`${state.urls.traces}/api/traces/${logLine.trace_id}`);
          if (response.status === 404) return undefined;
          const { spans } = (await response.json()) as { spans: Span[] };
          const server = spans.find((s) => s.kind === 2);
          const byId = new Map(spans.map((s) => [s.spanId, s]));
          const underServer = (span: Span): boolean => {
            for (let at: Span | undefined = span; at; at = byId.get(at.parentSpanId ?? '')) {
              if (at === server) return true;
            }
            return false;
          };
          const redis = spans.filter(
            (s) => s.kind === 3 && s.attributes['db.system.name'] === 'redis' && underServer(s),
          );
          return server && redis.length > 0 ? { server, redis } : undefined;
        },
      );
      expect(trace.server.name).toBe('GET /api/me');
      expect(trace.redis.length).toBeGreaterThan(0);

      // The demo's start-up warmed its returning users' sessions: the exporter shows the run done.
      const warming = await until('the start-up warming run in Prometheus', 60_000, async () => {
        const done = await query(
          state,
          'redscope_warming_progress_ratio{job="redis", namespace="demo:session:"} == 1 and on (instance_id, namespace) redscope_warming_state{job="redis", state="done"} == 1',
        );
        return done.length > 0 ? done : undefined;
      });
      expect(warming[0]?.metric.namespace).toBe('demo:session:');
      const warmed = await query(
        state,
        'sum(redscope_client_warming_keys_total{job="redscope-apps", result="warmed"})',
      );
      expect(Number(warmed[0]?.value[1])).toBeGreaterThan(0);

      // The `redscope warm` line it printed works on the stack, as the app user: the plan
      // from the demo's usage record, then the run (the sessions are cached: mostly skipped).
      const warmLine = stack()
        .out()
        .split('\n')
        .find((l) => l.includes(' warm --namespace demo:session: '));
      if (!warmLine) throw new Error(`no redscope warm command in:\n${stack().out()}`);
      const words = warmLine.trim().split(' ');
      const env = Object.fromEntries(
        words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=', 2) as [string, string]),
      );
      const [program, ...args] = words.filter((w) => !/^[A-Z_]+=/.test(w)) as [string, ...string[]];
      const warm = (argv: readonly string[]) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(program, argv, { env: { ...process.env, ...env } });
          let out = '';
          let err = '';
          child.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
          });
          child.stderr.on('data', (chunk: Buffer) => {
            err += chunk.toString();
          });
          child.once('exit', (code) => resolve({ code, out, err }));
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
      expect(run.out).toMatch(/done in [\d.]+ s: warmed \d+, skipped \d+ .*failed 0, errors 0/);

      // Rate windows and recording rules need history before the dashboards can be judged.
      await delay(Math.max(0, startedAt + HISTORY_MS - Date.now()));
      const empty = await queriesWithoutData(state.urls.prometheus);
      const unexplained = empty.filter((q) => q.expected === undefined);
      expect(unexplained, JSON.stringify(unexplained, null, 2)).toEqual([]);
      expect(await recordingRulesWithoutData(state.urls.prometheus)).toEqual([]);

      // The demo's hot key (one tenant's settings) is in the dashboard's top-10, and no
      // session id shows in any key name: those are redacted before they leave the app.
      const top = await query(
        state,
        'topk(10, max by (key) (redscope_hotkey_rate_per_minute{environment="dev"}))',
      );
      expect(top.length).toBeGreaterThan(0);
      const keys = top.map((s) => s.metric.key ?? '');
      expect(keys.some((k) => k.includes('settings'))).toBe(true);
      expect(keys.join(' ')).not.toMatch(/session:[0-9a-f]{64}/);

      // The status line: the master, the hit rate, and no alert.
      expect(stack().err()).toMatch(/\[status\] .* ops\/s · hit [\d.]+% · master redis-0 /);

      await delay(Math.max(0, startedAt + HEALTHY_MS - Date.now()));
      // The load's own account (a line a minute): every answer was what a browser expects.
      const loadReports = readFileSync(join(state.logDir, 'demo.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"event":"demo.load"'))
        .map((l) => JSON.parse(l) as { unexpected: number; dropped: number; requests: number });
      expect(loadReports.length).toBeGreaterThanOrEqual(3);
      expect(loadReports.at(-1)?.requests).toBeGreaterThan(5000);
      expect(loadReports.map((r) => [r.unexpected, r.dropped])).toEqual(
        loadReports.map(() => [0, 0]),
      );
      // Only a sample of the load's own requests gets a request line: the log stays small.
      const requestLines = readFileSync(join(state.logDir, 'demo.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"event":"http.request"')).length;
      expect(requestLines).toBeLessThan((loadReports.at(-1)?.requests ?? 0) * 0.1);
      const now = await alertsNow(state);
      expect(
        now.map((a) => `${a.labels.alertname} ${a.state}`),
        'alerts pending or firing after 5 minutes',
      ).toEqual([]);
    } finally {
      sampling = false;
      await sampler;
    }
    expect(
      seen.filter((s) => s.state === 'firing'),
      'an alert fired on a healthy stack',
    ).toEqual([]);
    const received = await notifications(state);
    expect([...received.pagerduty, ...received.slack]).toEqual([]);
  }, 420_000);

  it('a maintenance silence holds back a warning alert, and delivery resumes when it expires', async () => {
    const sentinel = state.sentinels?.[0];
    if (!sentinel) throw new Error('no Sentinel in stack.json');
    const silence = await runCli([
      'maintenance',
      'start',
      '--for',
      '90s',
      '--matcher',
      'cluster=redscope',
      '--comment',
      'e2e: pausing a Sentinel',
      '--state-dir',
      stack().stateDir,
    ]);
    expect(silence.code, silence.err).toBe(0);
    // When the silence ends, as Alertmanager has it.
    const listed = await runCli(['maintenance', 'list', '--json', '--state-dir', stack().stateDir]);
    const ours = (JSON.parse(listed.out) as { comment: string; endsAt: string }[]).find(
      (s) => s.comment === 'e2e: pausing a Sentinel',
    );
    if (!ours) throw new Error(`the silence is not listed:\n${listed.out}`);
    const endsAt = Date.parse(ours.endsAt);
    const before = await notifications(state);
    // A hung Sentinel: the exporter's scrapes time out, RedisSentinelDown (warning) fires after 30 s.
    const pid = pidOf(`redis-sentinel ${sentinel}`);
    process.kill(pid, 'SIGSTOP');
    try {
      await until('RedisSentinelDown firing in Prometheus', 60_000, async () =>
        (await alertsNow(state)).find(
          (a) => a.labels.alertname === 'RedisSentinelDown' && a.state === 'firing',
        ),
      );
      const list = await runCli(['maintenance', 'list', '--state-dir', stack().stateDir]);
      expect(list.out).toContain('cluster="redscope"');
      // Alertmanager has it, muted by the silence; nothing reaches a receiver while it holds.
      const muted = await until('the alert suppressed in Alertmanager', 20_000, async () => {
        const response = await fetch(
          `${state.urls.alertmanager}/api/v2/alerts?filter=${encodeURIComponent('alertname="RedisSentinelDown"')}`,
        );
        const alerts = (await response.json()) as { status: { silencedBy: string[] } }[];
        return alerts[0]?.status.silencedBy.length ? alerts[0] : undefined;
      });
      expect(muted.status.silencedBy).toHaveLength(1);
      // Just before it ends: still nothing delivered.
      await delay(Math.max(0, endsAt - 2000 - Date.now()));
      const during = await notifications(state);
      expect(during.slack.length).toBe(before.slack.length);
      expect(during.pagerduty.length).toBe(before.pagerduty.length);
      // Expired by itself: the next flush of the alert's group delivers it (group_interval 1m).
      const delivered = await until(
        'RedisSentinelDown in Slack after the silence',
        90_000,
        async () =>
          (await notifications(state)).slack.find((m) =>
            m.body.attachments.some(
              (a) => a.title.startsWith('[FIRING') && a.title.includes('RedisSentinelDown'),
            ),
          ),
      );
      expect(delivered.receivedAt).toBeGreaterThanOrEqual(endsAt);
      const after = await runCli(['maintenance', 'list', '--state-dir', stack().stateDir]);
      expect(after.out).not.toContain('e2e: pausing a Sentinel');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The Sentinel answers again before the next drill, which needs a quorum.
    await until('the resumed Sentinel scraped up', 60_000, async () => {
      const up = await query(state, `redis_up{job="redis-sentinel", instance="${sentinel}"} == 1`);
      return up.length > 0 ? true : undefined;
    });
  }, 300_000);

  it('a killed master pages PagerDuty and posts the failover to Slack, each with its runbook, while the demo keeps serving', async () => {
    // Session validations the demo answered from its cache: its main work.
    const demoRequests = async () =>
      Number(
        (await query(state, 'sum(redscope_session_cache_hits_total{job="redscope-apps"})'))[0]
          ?.value[1] ?? 0,
      );
    const result: FaultToPage = await killMasterAndWaitForPage(stack().stateDir, state);
    const toPage = (result.page.receivedAt - result.killedAt) / 1000;
    const toChat = (result.chat.receivedAt - result.killedAt) / 1000;
    process.stderr.write(
      `e2e: kill -> PagerDuty ${toPage.toFixed(2)} s, -> Slack ${toChat.toFixed(2)} s, failover ${result.failoverSeconds.toFixed(2)} s\n`,
    );
    // The seed's promise is 30 s; the bench holds it to 12 s.
    expect(toPage).toBeLessThan(30);
    expect(toChat).toBeLessThan(30);
    const pageRunbook = result.page.body.links.find((l) => l.text === 'Runbook')?.href ?? '';
    expect(pageRunbook).toMatch(/RedisDown\.md$/);
    expect(existsSync(runbookFile(pageRunbook))).toBe(true);
    expect(result.page.body.payload.custom_details.runbook_url).toBe(pageRunbook);
    const chatRunbook = result.chat.body.attachments[0]?.title_link ?? '';
    expect(chatRunbook).toMatch(/RedisFailover\.md$/);
    expect(existsSync(runbookFile(chatRunbook))).toBe(true);

    // The exporter (and so Prometheus) shows the new master.
    await until('the new master in Prometheus', 30_000, async () => {
      const masters = await query(
        state,
        'redis_instance_info{job="redis", role="master"} and on (instance) redis_up == 1',
      );
      return masters.length === 1 && masters[0]?.metric.instance === result.newMaster
        ? true
        : undefined;
    });
    // The demo keeps serving: its request count grows and a new login works.
    const served = await demoRequests();
    await until('the demo serving after the failover', 30_000, async () =>
      (await demoRequests()) > served + 20 ? true : undefined,
    );
    const login = await fetch(`${state.urls.demo}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'user-2', password: 'password-2' }),
    });
    expect(login.status).toBe(200);
  }, 180_000);

  it('stops every process on Ctrl-C, in reverse order, and leaves no port open', async () => {
    const running = stack();
    const ports = Array.from({ length: 30 }, (_, i) => running.portsBase + i);
    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
    const err = running.err();
    const order = ['Prometheus', 'demo app', 'exporter', 'Alertmanager', 'Redis'].map((part) =>
      err.indexOf(`stopping ${part}`),
    );
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const port of ports) {
      expect(await listening(port), `port ${port} still open`).toBe(false);
    }
    const left = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
      .split('\n')
      .filter((args) => ports.some((port) => args.includes(`127.0.0.1:${port}`)));
    expect(left).toEqual([]);
    expect(existsSync(join(running.stateDir, 'stack.json'))).toBe(false);
    expect(existsSync(join(running.stateDir, 'up.pid'))).toBe(false);
    // The logs stay for the post-mortem.
    expect(existsSync(join(running.stateDir, 'logs', 'demo.log'))).toBe(true);
  }, 60_000);
});
