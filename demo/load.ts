import { demoUsers } from './users.js';

export interface LoadOptions {
  /** The demo's base URL. */
  readonly url: string;
  /** Virtual users running at once (default 20). */
  readonly concurrency?: number;
  /** How many demo accounts exist (default 100, as startDemo). */
  readonly users?: number;
  /** Authenticated requests per visit, inclusive range (default 5..40). */
  readonly requestsPerVisit?: readonly [number, number];
  /** Share of visits that log out at the end (default 0.7); the rest just leave. */
  readonly logoutShare?: number;
  /** Share of logins with a wrong password (default 0.05). */
  readonly badPasswordShare?: number;
  /** Share of API calls sent with a forged token (default 0.02). */
  readonly forgedTokenShare?: number;
  /** Pause between one user's requests, ms (default 0..20, random). */
  readonly thinkTimeMs?: readonly [number, number];
  /**
   * Requests per minute from one busy tenant's user on `/api/org/settings`:
   * its settings key and its session turn hot (default 0: none).
   */
  readonly hotKeyPerMinute?: number;
}

export interface LoadReport {
  requests: number;
  /** Count per HTTP status; 0 for network errors. */
  readonly byStatus: Record<number, number>;
  logins: number;
  logouts: number;
  /** Requests whose status was not what the scenario expected (e.g. a valid token refused). */
  unexpected: number;
}

export interface RunningLoad {
  /** Stops after the visits in progress finish their current request. */
  stop(): Promise<LoadReport>;
  readonly report: LoadReport;
}

const between = ([low, high]: readonly [number, number]) =>
  low + Math.floor(Math.random() * (high - low + 1));
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Drives the demo like its users would: log in (sometimes with a wrong
 * password), browse with the session token (now and then a forged one), then
 * log out or simply leave; after logging out a client sometimes retries with
 * its revoked token, which must be refused. Runs until `stop()`.
 *
 * ```ts
 * const load = startLoad({ url: demo.url, concurrency: 20 });
 * await new Promise((r) => setTimeout(r, 10_000));
 * console.log(await load.stop());
 * ```
 */
export function startLoad(options: LoadOptions): RunningLoad {
  const accounts = demoUsers(options.users ?? 100);
  const report: LoadReport = { requests: 0, byStatus: {}, logins: 0, logouts: 0, unexpected: 0 };
  let running = true;

  async function call(
    path: string,
    init: RequestInit,
    expected: number,
  ): Promise<Response | undefined> {
    report.requests += 1;
    try {
      const response = await fetch(`${options.url}${path}`, init);
      report.byStatus[response.status] = (report.byStatus[response.status] ?? 0) + 1;
      if (response.status !== expected) report.unexpected += 1;
      return response;
    } catch {
      report.byStatus[0] = (report.byStatus[0] ?? 0) + 1;
      report.unexpected += 1;
      return undefined;
    }
  }

  async function visit(): Promise<void> {
    const account = accounts[Math.floor(Math.random() * accounts.length)];
    if (!account) return;
    const think = () => delay(between(options.thinkTimeMs ?? [0, 20]));
    const wrongPassword = Math.random() < (options.badPasswordShare ?? 0.05);
    const login = await call(
      '/login',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          username: account.username,
          password: wrongPassword ? 'nope' : account.password,
        }),
      },
      wrongPassword ? 401 : 200,
    );
    if (login?.status !== 200) {
      await login?.body?.cancel();
      return;
    }
    report.logins += 1;
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    const count = between(options.requestsPerVisit ?? [5, 40]);
    for (let i = 0; i < count && running; i++) {
      await think();
      const forged = Math.random() < (options.forgedTokenShare ?? 0.02);
      const path = Math.random() < 0.7 ? '/api/me' : '/api/org/visits';
      const response = await call(
        path,
        { headers: forged ? { authorization: 'Bearer forged-token' } : auth },
        forged ? 401 : 200,
      );
      await response?.body?.cancel();
    }
    if (Math.random() < (options.logoutShare ?? 0.7)) {
      const logout = await call('/logout', { method: 'POST', headers: auth }, 204);
      await logout?.body?.cancel();
      report.logouts += 1;
      if (Math.random() < 0.2) {
        const retry = await call('/api/me', { headers: auth }, 401);
        await retry?.body?.cancel();
      }
    }
  }

  /** One logged-in user of the busiest tenant, paced at the hot-key rate. */
  async function hotTenant(perMinute: number): Promise<void> {
    const account = accounts[0];
    if (!account) return;
    let token: string | undefined;
    const gapMs = 60_000 / perMinute;
    let next = performance.now();
    while (running) {
      if (token === undefined) {
        const login = await call(
          '/login',
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: account.username, password: account.password }),
          },
          200,
        );
        if (login?.status === 200) {
          report.logins += 1;
          token = ((await login.json()) as { token: string }).token;
        } else {
          await login?.body?.cancel();
          await delay(1000);
          continue;
        }
      }
      // Paced on a schedule, not after each reply: a slow reply does not lower the rate (but a
      // stall of over a second is not made up for in one burst).
      next = Math.max(next + gapMs, performance.now() - 1000);
      void call('/api/org/settings', { headers: { authorization: `Bearer ${token}` } }, 200).then(
        (response) => response?.body?.cancel(),
      );
      await delay(Math.max(0, next - performance.now()));
    }
  }

  const workers: Promise<void>[] = Array.from({ length: options.concurrency ?? 20 }, async () => {
    while (running) await visit();
  });
  if ((options.hotKeyPerMinute ?? 0) > 0) workers.push(hotTenant(options.hotKeyPerMinute ?? 0));
  const finished = Promise.all(workers).then(() => report);
  return {
    report,
    async stop() {
      running = false;
      return finished;
    },
  };
}
