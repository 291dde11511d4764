import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager } from '../../stack/alertmanager-server.js';
import type { HttpService } from '../../stack/http-service.js';
import { freePort } from '../../stack/ports.js';
import { type StackState, writeStackState } from '../../stack/stack-state.js';
import { waitFor } from '../bundle/support/wait-for.js';
import { fakeUpPid } from './support/fake-up.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let alertmanager: HttpService | undefined;
let url: string;

const run = (...args: string[]) => runCli(['maintenance', ...args]);
const at = (...args: string[]) => run(...args, '--alertmanager-url', url);

interface ApiSilence {
  id: string;
  status: { state: string };
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${url}${path}`, init);
  expect(response.status, `${path}: ${response.status}`).toBe(200);
  return (await response.json()) as T;
}

/** The id printed by `maintenance start`. */
function idOf(out: string): string {
  const id = /^silence (\S+) until /m.exec(out)?.[1];
  if (!id) throw new Error(`no silence id in:\n${out}`);
  return id;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-maintenance-int-'));
  const configFile = join(dir, 'alertmanager.yml');
  // One receiver that sends nothing: the tests look at silences and alert states only.
  writeFileSync(configFile, "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n");
  alertmanager = await startAlertmanager({ configFile, dir, port: await freePort() });
  url = alertmanager.url;
});

afterEach(async () => {
  process.exitCode = undefined;
  // Each test starts with no live silence, whatever the last one left.
  const silences = await api<ApiSilence[]>('/api/v2/silences');
  for (const s of silences.filter((s) => s.status.state !== 'expired')) {
    await fetch(`${url}/api/v2/silence/${s.id}`, { method: 'DELETE' });
  }
});

afterAll(async () => {
  await alertmanager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('redscope maintenance against a real Alertmanager', () => {
  describe('happy', () => {
    it('start creates a silence that list shows and Alertmanager holds, with its matchers and end', async () => {
      const before = Date.now();
      const started = await at(
        'start',
        '--for',
        '1h30m',
        '--matcher',
        'cluster=redscope',
        '--matcher',
        'alertname=~Redis.*',
        '--comment',
        'patching the replicas',
      );
      expect(started.err).toBe('');
      expect(started.code).toBe(0);
      const id = idOf(started.out);
      expect(started.out).toMatch(
        /^silence \S+ until \d{4}-\d\d-\d\dT[\d:.]+Z \(1h30m\): cluster="redscope", alertname=~"Redis\.\*"$/m,
      );
      expect(started.out).toContain(
        `expires it by itself; end it early with: redscope maintenance stop ${id}`,
      );

      const held = await api<ApiSilence>(`/api/v2/silence/${id}`);
      expect(held.status.state).toBe('active');
      expect(held.matchers).toEqual([
        { name: 'cluster', value: 'redscope', isRegex: false, isEqual: true },
        { name: 'alertname', value: 'Redis.*', isRegex: true, isEqual: true },
      ]);
      expect(held.comment).toBe('patching the replicas');
      expect(held.createdBy).toMatch(/^redscope maintenance \(\S+@\S+\)$/);
      const endsIn = Date.parse(held.endsAt) - before;
      expect(endsIn).toBeGreaterThanOrEqual(90 * 60_000 - 1000);
      expect(endsIn).toBeLessThanOrEqual(90 * 60_000 + 5000);

      const listed = await at('list');
      expect(listed.code).toBe(0);
      const lines = listed.out.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ID\s+STATE\s+MATCHERS\s+ENDS\s+CREATED BY\s+COMMENT$/);
      expect(lines).toHaveLength(2);
      expect(lines[1]).toContain(id);
      expect(lines[1]).toContain('active');
      expect(lines[1]).toContain('cluster="redscope",alertname=~"Redis.*"');
      expect(lines[1]).toMatch(new RegExp(`  ${held.endsAt} \\(in 1h(29|30)m\\)  `));
      expect(lines[1]).toContain(held.createdBy);
      expect(lines[1]).toMatch(/patching the replicas$/);

      const json = await at('list', '--json');
      expect(JSON.parse(json.out)).toEqual([
        {
          id,
          state: 'active',
          matchers: ['cluster="redscope"', 'alertname=~"Redis.*"'],
          startsAt: held.startsAt,
          endsAt: held.endsAt,
          remainingSeconds: expect.any(Number),
          createdBy: held.createdBy,
          comment: 'patching the replicas',
        },
      ]);
    });

    it('a silence suppresses a matching alert while it holds, and stop <ID> lifts it', async () => {
      const labels = { alertname: 'RedisDown', cluster: 'drill-suppress', severity: 'critical' };
      const response = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels, startsAt: new Date().toISOString() }]),
      });
      expect(response.status).toBe(200);
      const stateOfAlert = async () => {
        const alerts = await api<{ labels: Record<string, string>; status: { state: string } }[]>(
          '/api/v2/alerts?filter=cluster%3D%22drill-suppress%22',
        );
        return alerts[0]?.status.state;
      };
      await waitFor(
        'the alert to be active',
        async () => ((await stateOfAlert()) === 'active' ? true : undefined),
        5000,
      );

      const started = await at('start', '--for', '10m', '--matcher', 'cluster=drill-suppress');
      expect(started.code).toBe(0);
      const id = idOf(started.out);
      await waitFor(
        'the alert to be suppressed',
        async () => ((await stateOfAlert()) === 'suppressed' ? true : undefined),
        5000,
      );

      const stopped = await at('stop', id);
      expect(stopped.code).toBe(0);
      expect(stopped.out).toBe(`expired silence ${id}: cluster="drill-suppress"\n`);
      expect((await api<ApiSilence>(`/api/v2/silence/${id}`)).status.state).toBe('expired');
      await waitFor(
        'the alert to be active again',
        async () => ((await stateOfAlert()) === 'active' ? true : undefined),
        5000,
      );

      // Stopping it again is not an error: it is already what the user wants.
      const again = await at('stop', id);
      expect(again.code).toBe(0);
      expect(again.out).toMatch(new RegExp(`^silence ${id} had already expired at `));
    });

    it('a silence with --for 2s leaves list by itself once it expires', async () => {
      const started = await at('start', '--for', '2s', '--matcher', 'cluster=short');
      expect(started.code).toBe(0);
      const id = idOf(started.out);
      expect((await at('list')).out).toContain(id);
      await waitFor(
        'the silence to expire by itself',
        async () => ((await at('list')).out === 'no active silences\n' ? true : undefined),
        6000,
        200,
      );
      expect((await api<ApiSilence>(`/api/v2/silence/${id}`)).status.state).toBe('expired');
    });

    it('stop --all expires every silence redscope maintenance made and leaves the others', async () => {
      const ours = [
        idOf((await at('start', '--for', '1h', '--matcher', 'cluster=a')).out),
        idOf((await at('start', '--for', '1h', '--matcher', 'cluster=b')).out),
      ];
      const theirs = await api<{ silenceID: string }>('/api/v2/silences', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          matchers: [{ name: 'cluster', value: 'c', isRegex: false, isEqual: true }],
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 3_600_000).toISOString(),
          createdBy: 'someone@elsewhere',
          comment: 'not ours',
        }),
      });
      const stopped = await at('stop', '--all');
      expect(stopped.code).toBe(0);
      for (const id of ours) expect(stopped.out).toContain(`expired silence ${id}`);
      expect(stopped.out).toContain('left 1 other silence (not created by redscope maintenance)');
      for (const id of ours) {
        expect((await api<ApiSilence>(`/api/v2/silence/${id}`)).status.state).toBe('expired');
      }
      expect((await api<ApiSilence>(`/api/v2/silence/${theirs.silenceID}`)).status.state).toBe(
        'active',
      );

      const none = await at('stop', '--all');
      expect(none.code).toBe(0);
      expect(none.out).toContain('no active silences created by redscope maintenance');
    });

    it('takes the Alertmanager URL from the stack.json of a running redscope up in --state-dir', async () => {
      const stateDir = join(dir, 'state');
      const state: StackState = {
        // This process: alive, as `redscope up` would be.
        pid: fakeUpPid(),
        startedAt: new Date().toISOString(),
        mode: 'sentinel',
        urls: {
          prometheus: 'http://127.0.0.1:9',
          alertmanager: url,
          exporter: 'http://127.0.0.1:9',
          demo: 'http://127.0.0.1:9',
          receivers: 'http://127.0.0.1:9',
          traces: 'http://127.0.0.1:9',
        },
        admin: { username: 'admin', passwordFile: join(stateDir, 'none') },
        logDir: stateDir,
      };
      mkdirSync(stateDir);
      writeStackState(stateDir, state);
      const started = await run(
        'start',
        '--for',
        '5m',
        '--matcher',
        'cluster=from-state',
        '--state-dir',
        stateDir,
      );
      expect(started.err).toBe('');
      expect(started.code).toBe(0);
      const id = idOf(started.out);
      expect((await api<ApiSilence>(`/api/v2/silence/${id}`)).matchers[0]?.value).toBe(
        'from-state',
      );
      expect((await run('list', '--state-dir', stateDir)).out).toContain(id);
    });
  });

  describe('unhappy', () => {
    it("exits 1 with Alertmanager's reason when it refuses the silence (a bad regex)", async () => {
      const { code, err } = await at('start', '--for', '1h', '--matcher', 'alertname=~(');
      expect(code).toBe(1);
      expect(err).toContain(
        `redscope maintenance start: Alertmanager at ${url} refused POST /api/v2/silences: 400 Bad Request: silence invalid`,
      );
      expect(err).toContain('invalid regular expression');
      expect(err.trim().split('\n')).toHaveLength(1);
    });

    it('exits 1 naming the URL when Alertmanager cannot be reached', async () => {
      const refused = `http://127.0.0.1:${await freePort()}`;
      for (const args of [
        ['list'],
        ['start', '--for', '1h', '--matcher', 'a=b'],
        ['stop', '--all'],
      ]) {
        const { code, err } = await run(...args, '--alertmanager-url', refused);
        expect(code).toBe(1);
        expect(err).toBe(
          `redscope maintenance ${args[0]}: cannot reach Alertmanager at ${refused} (ECONNREFUSED)\n`,
        );
      }
    });

    it('exits 1 for an id Alertmanager does not know', async () => {
      const id = randomUUID();
      const { code, err } = await at('stop', id);
      expect(code).toBe(1);
      expect(err).toBe(`redscope maintenance stop: Alertmanager at ${url} has no silence ${id}\n`);
    });

    it('exits 2 for bad input before asking Alertmanager', async () => {
      const before = (await api<ApiSilence[]>('/api/v2/silences')).length;
      for (const [args, message] of [
        [
          ['start', '--for', '0s', '--matcher', 'a=b'],
          '--for "0s": a silence must last more than 0s',
        ],
        [['start', '--for', '1h', '--matcher', 'a~b'], '--matcher "a~b": expected name=value'],
        [['start', '--for', '1h'], '--matcher: give at least one'],
        [['start', '--for', '1h', '--matcher', 'a=b', '--bogus'], "unknown option '--bogus'"],
      ] as const) {
        const { code, err } = await at(...args);
        expect(err).toContain(message);
        expect(code).toBe(2);
      }
      expect(await api<ApiSilence[]>('/api/v2/silences')).toHaveLength(before);
    });
  });
});
