import { randomBytes } from 'node:crypto';
import type { Logger } from '../client/index.js';
import { DEMO_DEFAULTS, LOAD_HEADER } from './defaults.js';
import { ReadyQueue } from './ready-queue.js';
import { type DemoUser, demoUsers } from './users.js';

/** What one request of the load is, as the report counts it. */
export type LoadKind =
  /** Right password: 200 and a token. */
  | 'login'
  /** Mistyped: 401, and the visitor tries again after a pause. */
  | 'login_wrong_password'
  /** An authenticated page (/api/me, /api/org/visits, /api/org/settings): one session validation. */
  | 'page'
  /** A random token that never was a session: 401. */
  | 'forged_token'
  | 'logout'
  /** A stale tab retrying a logged-out token: must be 401. */
  | 'revoked_retry'
  /** The busiest tenant's settings, read by its dashboards: the hot key. */
  | 'hot_key';

const KINDS: readonly LoadKind[] = [
  'login',
  'login_wrong_password',
  'page',
  'forged_token',
  'logout',
  'revoked_retry',
  'hot_key',
];

/** The load's defaults; `redscope demo` documents the ones it exposes as flags. */
export const LOAD_DEFAULTS = {
  /** Pages a visit browses after logging in, inclusive: logins are about 4% of the traffic. */
  pagesPerVisit: [5, 40] as const,
  /** A visitor's pause between two of their requests, ms. The rate paces arrivals, not this. */
  thinkTimeMs: [1000, 5000] as const,
  /** Visits that end with a logout; the rest just leave (their session expires). */
  logoutShare: 0.7,
  /** Logouts followed by one retry with the revoked token. */
  revokedRetryShare: 0.2,
  /** Logins with a wrong password. */
  badPasswordShare: 0.05,
  /** Requests (besides the hot key's) carrying a forged token. */
  forgedTokenShare: 0.02,
  /** The busiest tenant, whose settings key the hot-key reads hit. */
  hotOrg: 'org-0',
  /** Its dashboards polling the settings: each session key gets a quarter of the hot rate. */
  hotKeySessions: 4,
  /** A request unanswered after this counts as status 0: a browser gives up too. */
  requestTimeoutMs: 10_000,
  /** A summary of the report goes to the logger this often. */
  reportEveryMs: 60_000,
} as const;

/** Pages a logged-in visitor opens, by share: mostly cheap session checks. */
const PAGES: readonly (readonly [string, number])[] = [
  ['/api/me', 0.55],
  ['/api/org/visits', 0.25],
  ['/api/org/settings', 0.2],
];

export interface LoadOptions {
  /** The demo's base URL. */
  readonly url: string;
  /** Requests per second over the whole mix, the hot-key reads included (default 40). */
  readonly rate?: number;
  /** How many demo accounts exist (default 100, as startDemo). */
  readonly users?: number;
  /** Pages per visit, inclusive range (default 5..40). */
  readonly pagesPerVisit?: readonly [number, number];
  /** A visitor's pause between two of their requests, ms (default 1000..5000). */
  readonly thinkTimeMs?: readonly [number, number];
  /** Share of visits that log out at the end (default 0.7). */
  readonly logoutShare?: number;
  /** Share of logouts retried with the revoked token (default 0.2). */
  readonly revokedRetryShare?: number;
  /** Share of logins with a wrong password (default 0.05). */
  readonly badPasswordShare?: number;
  /** Share of requests, hot key aside, with a forged token (default 0.02). */
  readonly forgedTokenShare?: number;
  /**
   * Reads per minute of the busiest tenant's settings (`/api/org/settings`
   * of org-0, from a few sessions of its users): part of `rate`, at most
   * `rate` × 60 (default 0: none).
   */
  readonly hotKeyPerMinute?: number;
  /**
   * Requests in flight at most: an arrival over it is dropped and counted,
   * so an outage cannot pile up work (default a second's worth of `rate`, at least 8).
   */
  readonly maxInFlight?: number;
  /** Tokens of sessions opened before the load started (returning users): they browse first. */
  readonly returningSessions?: readonly string[];
  /** Gets a `demo.load` summary of the report every minute and at stop (default: none). */
  readonly logger?: Logger;
}

export interface LoadReport {
  /** Requests sent. */
  requests: number;
  /** Count per HTTP status; 0 for network errors and timeouts. */
  readonly byStatus: Record<number, number>;
  readonly byKind: Record<LoadKind, number>;
  /** Requests whose status was not what the scenario expected (e.g. a valid token refused). */
  unexpected: number;
  readonly unexpectedByKind: Record<LoadKind, number>;
  /** Successful logins. */
  logins: number;
  logouts: number;
  /** Arrivals not sent: the in-flight bound was reached, or the process stalled over a second. */
  dropped: number;
  /** Returning sessions whose first page was answered 200. */
  returningValidated: number;
}

export interface RunningLoad {
  /** Stops the arrivals, cuts the requests in flight short (not counted as unexpected), and reports. */
  stop(): Promise<LoadReport>;
  readonly report: LoadReport;
}

interface Visitor {
  /** Absent for a returning session, which never logs in again. */
  readonly account: DemoUser | undefined;
  token: string | undefined;
  pages: number;
  readonly logsOut: boolean;
  /** Logged out; the next request retries the revoked token, then the visitor leaves. */
  retryRevoked: boolean;
  returning: boolean;
  readyAt: number;
}

const between = ([low, high]: readonly [number, number]) =>
  low + Math.floor(Math.random() * (high - low + 1));
const pause = ([low, high]: readonly [number, number]) => low + Math.random() * (high - low);

function pickPage(): string {
  let roll = Math.random();
  for (const [path, share] of PAGES) {
    roll -= share;
    if (roll < 0) return path;
  }
  return PAGES[0]?.[0] ?? '/api/me';
}

function emptyReport(): LoadReport {
  const perKind = () => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<LoadKind, number>;
  return {
    requests: 0,
    byStatus: {},
    byKind: perKind(),
    unexpected: 0,
    unexpectedByKind: perKind(),
    logins: 0,
    logouts: 0,
    dropped: 0,
    returningValidated: 0,
  };
}

/**
 * Drives the demo like its users would, open loop: requests arrive at `rate`
 * on a schedule, whatever the replies take, each one the next step of a
 * visitor who has finished thinking (or of a new visitor when none has):
 * log in (sometimes mistyping the password first), browse pages with the
 * session, then log out (now and then retrying the revoked token, which must
 * be refused) or just leave. Among them, forged tokens, and the busiest
 * tenant's dashboards reading its settings at `hotKeyPerMinute`, the hot key.
 * Runs until `stop()`.
 *
 * ```ts
 * const load = startLoad({ url: demo.url, rate: 40, hotKeyPerMinute: 600 });
 * await new Promise((r) => setTimeout(r, 10_000));
 * console.log(await load.stop());
 * ```
 */
export function startLoad(options: LoadOptions): RunningLoad {
  const rate = options.rate ?? DEMO_DEFAULTS.rate;
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new RangeError(`rate: expected requests per second above 0, got ${rate}`);
  }
  const hotPerSecond = (options.hotKeyPerMinute ?? 0) / 60;
  if (!Number.isFinite(hotPerSecond) || hotPerSecond < 0 || hotPerSecond > rate) {
    throw new RangeError(
      `hotKeyPerMinute: part of the rate, 0..${rate * 60} at ${rate} requests/s, got ${options.hotKeyPerMinute}`,
    );
  }
  const accounts = demoUsers(options.users ?? DEMO_DEFAULTS.users);
  const thinkTimeMs = options.thinkTimeMs ?? LOAD_DEFAULTS.thinkTimeMs;
  const pagesPerVisit = options.pagesPerVisit ?? LOAD_DEFAULTS.pagesPerVisit;
  const logoutShare = options.logoutShare ?? LOAD_DEFAULTS.logoutShare;
  const revokedRetryShare = options.revokedRetryShare ?? LOAD_DEFAULTS.revokedRetryShare;
  const badPasswordShare = options.badPasswordShare ?? LOAD_DEFAULTS.badPasswordShare;
  const forgedTokenShare = options.forgedTokenShare ?? LOAD_DEFAULTS.forgedTokenShare;
  const maxInFlight = options.maxInFlight ?? Math.max(8, Math.ceil(rate));
  const report = emptyReport();
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const ready = new ReadyQueue<Visitor>();
  let visitors = 0;
  let running = true;

  const started = performance.now();
  for (const token of options.returningSessions ?? []) {
    visitors += 1;
    // They come back over the first few seconds, as after any restart, not all at once.
    ready.push({
      account: undefined,
      token,
      pages: between(pagesPerVisit),
      logsOut: Math.random() < logoutShare,
      retryRevoked: false,
      returning: true,
      readyAt: started + pause(thinkTimeMs),
    });
  }

  async function send(
    kind: LoadKind,
    path: string,
    init: RequestInit,
    expected: number,
  ): Promise<Response | undefined> {
    report.requests += 1;
    report.byKind[kind] += 1;
    try {
      const response = await fetch(`${options.url}${path}`, {
        ...init,
        // Marks the load's own traffic: the app logs only a sample of it (see LOAD_HEADER).
        headers: { ...(init.headers as Record<string, string> | undefined), [LOAD_HEADER]: kind },
        signal: AbortSignal.any([
          stopping.signal,
          AbortSignal.timeout(LOAD_DEFAULTS.requestTimeoutMs),
        ]),
      });
      report.byStatus[response.status] = (report.byStatus[response.status] ?? 0) + 1;
      if (response.status !== expected) {
        report.unexpected += 1;
        report.unexpectedByKind[kind] += 1;
      }
      return response;
    } catch {
      // Cut short by stop(): not the demo's doing.
      if (stopping.signal.aborted) return undefined;
      report.byStatus[0] = (report.byStatus[0] ?? 0) + 1;
      report.unexpected += 1;
      report.unexpectedByKind[kind] += 1;
      return undefined;
    }
  }

  /** Reads the body to its end, so the keep-alive connection is reused. */
  const drain = async (response: Response | undefined) => {
    await response?.arrayBuffer().catch(() => undefined);
  };

  async function login(kind: 'login' | 'login_wrong_password', account: DemoUser) {
    const wrong = kind === 'login_wrong_password';
    const response = await send(
      kind,
      '/login',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          username: account.username,
          password: wrong ? 'mistyped' : account.password,
        }),
      },
      wrong ? 401 : 200,
    );
    if (response?.status !== 200) {
      await drain(response);
      return undefined;
    }
    const body = (await response.json().catch(() => ({}))) as { token?: unknown };
    if (typeof body.token !== 'string') {
      // A 200 without a token is the demo answering wrong.
      report.unexpected += 1;
      report.unexpectedByKind[kind] += 1;
      return undefined;
    }
    report.logins += 1;
    return body.token;
  }

  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  /** Back to thinking, or gone: a visit that is over without a logout just leaves. */
  function thinkOrLeave(visitor: Visitor, stays: boolean): void {
    if (
      !running ||
      !stays ||
      (visitor.token !== undefined && visitor.pages === 0 && !visitor.logsOut)
    ) {
      visitors -= 1;
      return;
    }
    visitor.readyAt = performance.now() + pause(thinkTimeMs);
    ready.push(visitor);
  }

  async function step(visitor: Visitor): Promise<void> {
    const { account, token } = visitor;
    if (token === undefined) {
      if (account === undefined) return thinkOrLeave(visitor, false);
      const mistyped = Math.random() < badPasswordShare;
      visitor.token = await login(mistyped ? 'login_wrong_password' : 'login', account);
      // A mistyped password is typed again; a refused right one means the visitor gives up.
      return thinkOrLeave(visitor, mistyped || visitor.token !== undefined);
    }
    if (visitor.retryRevoked) {
      await drain(await send('revoked_retry', '/api/me', bearer(token), 401));
      return thinkOrLeave(visitor, false);
    }
    if (visitor.pages > 0) {
      visitor.pages -= 1;
      const response = await send('page', pickPage(), bearer(token), 200);
      await drain(response);
      const ok = response?.status === 200;
      if (ok && visitor.returning) report.returningValidated += 1;
      visitor.returning = false;
      return thinkOrLeave(visitor, ok);
    }
    const response = await send('logout', '/logout', { method: 'POST', ...bearer(token) }, 204);
    await drain(response);
    if (response?.status === 204) report.logouts += 1;
    visitor.retryRevoked = response?.status === 204 && Math.random() < revokedRetryShare;
    thinkOrLeave(visitor, visitor.retryRevoked);
  }

  function newVisitor(): Visitor {
    visitors += 1;
    return {
      account: accounts[Math.floor(Math.random() * accounts.length)],
      token: undefined,
      pages: between(pagesPerVisit),
      logsOut: Math.random() < logoutShare,
      retryRevoked: false,
      returning: false,
      readyAt: 0,
    };
  }

  async function forged(): Promise<void> {
    await drain(
      await send('forged_token', '/api/me', bearer(randomBytes(32).toString('base64url')), 401),
    );
  }

  // The busiest tenant's dashboards: a few sessions, taking turns, that never log out.
  const hotAccounts = accounts
    .filter((a) => a.orgId === LOAD_DEFAULTS.hotOrg)
    .slice(0, LOAD_DEFAULTS.hotKeySessions);
  const hotTokens: (string | undefined)[] = hotAccounts.map(() => undefined);
  const hotLoggingIn = new Set<number>();
  let hotTurn = 0;

  /**
   * The next dashboard's read, or its login when it has no session yet;
   * undefined when every dashboard is logging in (the arrival then goes to
   * the visitors, so the rate holds).
   */
  function hotRead(): Promise<void> | undefined {
    for (let tried = 0; tried < hotAccounts.length; tried++) {
      const slot = hotTurn++ % hotAccounts.length;
      const token = hotTokens[slot];
      if (token !== undefined) return readSettings(slot, token);
      if (!hotLoggingIn.has(slot)) return hotLogin(slot);
    }
    return undefined;
  }

  async function hotLogin(slot: number): Promise<void> {
    hotLoggingIn.add(slot);
    try {
      hotTokens[slot] = await login('login', hotAccounts[slot] as DemoUser);
    } finally {
      hotLoggingIn.delete(slot);
    }
  }

  async function readSettings(slot: number, token: string): Promise<void> {
    const response = await send('hot_key', '/api/org/settings', bearer(token), 200);
    // Refused (the session is gone): that dashboard logs in again at its next turn.
    if (response?.status === 401) hotTokens[slot] = undefined;
    await drain(response);
  }

  const hotShare = hotAccounts.length === 0 ? 0 : hotPerSecond / rate;
  let hotCredit = 0;

  function arrive(): void {
    if (inFlight.size >= maxInFlight) {
      report.dropped += 1;
      return;
    }
    // The hot key's share is counted out exactly, so its rate is steady: a random share would
    // wander by ±10% within the hot-key window.
    hotCredit += hotShare;
    let hot: Promise<void> | undefined;
    if (hotCredit >= 1) {
      hotCredit -= 1;
      hot = hotRead();
    }
    const work =
      hot ??
      (Math.random() < forgedTokenShare
        ? forged()
        : step(ready.takeReady(performance.now()) ?? newVisitor()));
    const tracked = work.catch(() => {
      // A step that threw past send() (a body that is not JSON...) is the demo answering wrong.
      report.unexpected += 1;
    });
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  }

  const intervalMs = 1000 / rate;
  // A stall (a blocked event loop, a paused process) is not made up for in one burst: over a
  // second's worth of missed arrivals are dropped.
  const maxBurst = Math.max(1, Math.ceil(rate));
  let issued = 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (!running) return;
    let due = Math.floor((performance.now() - started) / intervalMs) + 1 - issued;
    if (due > maxBurst) {
      report.dropped += due - maxBurst;
      issued += due - maxBurst;
      due = maxBurst;
    }
    for (let i = 0; i < due; i++) {
      issued += 1;
      arrive();
    }
    timer = setTimeout(tick, Math.max(0, started + issued * intervalMs - performance.now()));
  };
  tick();

  const summary = (final: boolean) =>
    options.logger?.info(
      {
        event: 'demo.load',
        final,
        rate,
        requests: report.requests,
        by_kind: report.byKind,
        by_status: report.byStatus,
        unexpected: report.unexpected,
        unexpected_by_kind: report.unexpectedByKind,
        dropped: report.dropped,
        in_flight: inFlight.size,
        visitors,
        returning_validated: report.returningValidated,
      },
      'demo load so far',
    );
  const reporter =
    options.logger === undefined
      ? undefined
      : setInterval(() => summary(false), LOAD_DEFAULTS.reportEveryMs);
  reporter?.unref();

  return {
    report,
    async stop() {
      running = false;
      clearTimeout(timer);
      clearInterval(reporter);
      stopping.abort();
      await Promise.allSettled([...inFlight]);
      summary(true);
      return report;
    },
  };
}
