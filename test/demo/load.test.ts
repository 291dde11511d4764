import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningLoad, startLoad } from '../../demo/load.js';

/**
 * A stand-in for the demo app with its rules (passwords, live and revoked
 * sessions, the orgs' settings), and what the tests need to know: when each
 * token was used. `delayMs` holds every answer; `hang` never answers.
 */
interface FakeDemo {
  readonly url: string;
  /** Token -> times it was sent (ms, performance.now()). */
  readonly uses: Map<string, number[]>;
  readonly revoked: Set<string>;
  /** Sessions that exist before the load starts. */
  readonly sessions: Map<string, { orgId: string }>;
  readonly settingsReads: Map<string, number>;
  readonly received: () => number;
}

const servers: Server[] = [];
const loads: RunningLoad[] = [];

afterEach(async () => {
  for (const load of loads.splice(0)) await load.stop();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function fakeDemo(options: { delayMs?: number; hang?: boolean } = {}): Promise<FakeDemo> {
  const uses = new Map<string, number[]>();
  const revoked = new Set<string>();
  const sessions = new Map<string, { orgId: string }>();
  const settingsReads = new Map<string, number>();
  let received = 0;
  const answer = (res: ServerResponse, status: number, body?: unknown) => {
    const send = () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (options.delayMs) setTimeout(send, options.delayMs);
    else send();
  };
  const handle = (req: IncomingMessage, res: ServerResponse, text: string) => {
    received += 1;
    if (options.hang) return;
    if (req.url === '/login') {
      const { username, password } = JSON.parse(text) as { username: string; password: string };
      const n = username.slice('user-'.length);
      if (password !== `password-${n}`) return answer(res, 401, { error: 'wrong' });
      const token = randomBytes(16).toString('hex');
      sessions.set(token, { orgId: `org-${Number(n) % 10}` });
      return answer(res, 200, { token });
    }
    const token = (req.headers.authorization ?? '').slice('Bearer '.length);
    uses.set(token, [...(uses.get(token) ?? []), performance.now()]);
    const session = sessions.get(token);
    if (session === undefined || revoked.has(token)) return answer(res, 401, { error: 'invalid' });
    if (req.url === '/logout') {
      revoked.add(token);
      return answer(res, 204);
    }
    if (req.url === '/api/org/settings') {
      settingsReads.set(session.orgId, (settingsReads.get(session.orgId) ?? 0) + 1);
    }
    return answer(res, 200, { ok: true });
  };
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    req.on('end', () => handle(req, res, text));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    uses,
    revoked,
    sessions,
    settingsReads,
    received: () => received,
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function started(...args: Parameters<typeof startLoad>): RunningLoad {
  const load = startLoad(...args);
  loads.push(load);
  return load;
}

describe('the demo load generator', () => {
  describe('happy', () => {
    it('sends arrivals at the rate, open loop: slow replies do not lower it', async () => {
      // Every reply takes 300 ms: a closed loop of a few users would send a handful a second.
      const demo = await fakeDemo({ delayMs: 300 });
      const load = started({ url: demo.url, rate: 50, maxInFlight: 100 });
      await delay(2000);
      const report = await load.stop();
      expect(report.requests).toBeGreaterThanOrEqual(90);
      expect(report.requests).toBeLessThanOrEqual(105);
      expect(report.dropped).toBe(0);
      expect(report.unexpected).toBe(0);
    });

    it('runs the whole mix with think time between one visitor’s requests, and no unexpected answer', async () => {
      const demo = await fakeDemo();
      const load = started({
        url: demo.url,
        rate: 200,
        users: 20,
        pagesPerVisit: [2, 4],
        thinkTimeMs: [100, 150],
        badPasswordShare: 0.2,
        forgedTokenShare: 0.1,
        revokedRetryShare: 1,
        hotKeyPerMinute: 60 * 50,
      });
      await delay(2500);
      const report = await load.stop();
      expect(report.unexpected).toBe(0);
      expect(report.dropped).toBe(0);
      for (const kind of Object.keys(report.byKind) as (keyof typeof report.byKind)[]) {
        expect(report.byKind[kind], kind).toBeGreaterThan(0);
      }
      expect(report.byStatus[200]).toBeGreaterThan(0);
      expect(report.byStatus[204]).toBe(report.logouts);
      // The hot key's share is counted out exactly: 50 of every 200 arrivals.
      expect(Math.abs(report.byKind.hot_key + 4 - report.requests / 4)).toBeLessThanOrEqual(2);
      expect(demo.settingsReads.get('org-0')).toBeGreaterThanOrEqual(report.byKind.hot_key);
      // Every logout is followed by a retry with the revoked token (refused: no unexpected answer),
      // but for the few whose visitor was still thinking at stop().
      expect(report.byKind.revoked_retry).toBeGreaterThan(report.logouts * 0.7);
      expect(report.byKind.revoked_retry).toBeLessThanOrEqual(report.logouts);
      // A visitor thinks between requests; the hot key's dashboards and forged tokens are not visitors.
      const hotOrForged = (token: string) =>
        !demo.sessions.has(token) || demo.sessions.get(token)?.orgId === 'org-0';
      const gaps = [...demo.uses]
        .filter(([token]) => !hotOrForged(token))
        .flatMap(([, times]) => times.slice(1).map((t, i) => t - (times[i] as number)));
      expect(gaps.length).toBeGreaterThan(50);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(95);
    });

    it('comes back first with the returning sessions it is given, and counts the ones answered 200', async () => {
      const demo = await fakeDemo();
      const returning = Array.from({ length: 30 }, () => randomBytes(16).toString('hex'));
      for (const token of returning) demo.sessions.set(token, { orgId: 'org-3' });
      const load = started({
        url: demo.url,
        rate: 100,
        thinkTimeMs: [0, 200],
        forgedTokenShare: 0,
        returningSessions: returning,
      });
      await delay(1000);
      const report = await load.stop();
      expect(report.returningValidated).toBe(30);
      // Nobody had to log in while 30 returning visitors were ready to browse.
      expect(report.byKind.login).toBeLessThan(report.byKind.page / 4);
      for (const token of returning) expect(demo.uses.get(token)?.length).toBeGreaterThan(0);
    });
  });

  describe('unhappy', () => {
    it('bounds the requests in flight when the demo stops answering, and counts what it drops', async () => {
      const demo = await fakeDemo({ hang: true });
      const load = started({ url: demo.url, rate: 50, maxInFlight: 5 });
      await delay(1000);
      expect(demo.received()).toBe(5);
      const stopping = performance.now();
      const report = await load.stop();
      // stop() cuts the hung requests short instead of waiting for their timeout.
      expect(performance.now() - stopping).toBeLessThan(1000);
      expect(report.requests).toBe(5);
      expect(report.dropped).toBeGreaterThanOrEqual(40);
      expect(report.unexpected).toBe(0);
    });

    it('counts a refused valid session as unexpected, by kind', async () => {
      const demo = await fakeDemo();
      const returning = Array.from({ length: 10 }, () => randomBytes(16).toString('hex'));
      // The demo lost these sessions: every first page of theirs is a 401 the users did not expect.
      const load = started({
        url: demo.url,
        rate: 100,
        thinkTimeMs: [0, 50],
        forgedTokenShare: 0,
        returningSessions: returning,
      });
      await delay(500);
      const report = await load.stop();
      expect(report.returningValidated).toBe(0);
      expect(report.unexpectedByKind.page).toBeGreaterThanOrEqual(10);
      expect(report.unexpected).toBe(report.unexpectedByKind.page);
    });

    it('refuses a hot-key rate above the rate it is a part of', () => {
      expect(() =>
        startLoad({ url: 'http://127.0.0.1:1', rate: 10, hotKeyPerMinute: 601 }),
      ).toThrow('hotKeyPerMinute: part of the rate, 0..600 at 10 requests/s, got 601');
      expect(() => startLoad({ url: 'http://127.0.0.1:1', rate: 0 })).toThrow(
        'rate: expected requests per second above 0',
      );
    });
  });
});
