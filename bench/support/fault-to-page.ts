/**
 * The kill-master drill on a running `redscope up`, timed from the kill to the
 * page: `redscope failover --crash` kills the master the Sentinels name, then
 * this waits for the PagerDuty event of `RedisDown` for that instance and the
 * Slack message of `RedisFailover` at the stack's loopback receivers, and reads
 * from Prometheus where the time went. The alert-latency bench repeats it; the
 * end-to-end test runs it once.
 */
import { main } from '../../cli/main.js';
import { waitUntil } from '../../stack/partition-faults.js';
import { promApi } from '../../stack/prometheus-api.js';
import type { StackState } from '../../stack/stack-state.js';

export interface PagerDutyEvent {
  readonly event_action: string;
  readonly payload: { summary: string; severity: string; custom_details: Record<string, string> };
  readonly links: { href: string; text: string }[];
}

export interface SlackMessage {
  readonly attachments: { title: string; title_link: string; text: string }[];
}

interface Received<T> {
  readonly body: T;
  readonly receivedAt: number;
}

export interface FaultToPage {
  /** `host:port` of the master that was killed, and of the one the Sentinels elected. */
  readonly deadMaster: string;
  readonly newMaster: string;
  /** ms since the epoch, as `redscope failover --crash` printed it. */
  readonly killedAt: number;
  /** Seconds from the kill until every Sentinel named the new master. */
  readonly failoverSeconds: number;
  readonly page: Received<PagerDutyEvent>;
  readonly chat: Received<SlackMessage>;
  /** Seconds from the kill: when Prometheus first scraped the dead master as down, and when each alert went active. */
  readonly breakdown: {
    readonly downScraped: number | undefined;
    readonly downActive: number | undefined;
    readonly failoverScraped: number | undefined;
    readonly failoverActive: number | undefined;
  };
}

async function received(
  state: StackState,
): Promise<{ pagerduty: Received<PagerDutyEvent>[]; slack: Received<SlackMessage>[] }> {
  const response = await fetch(`${state.urls.receivers}/received`, {
    signal: AbortSignal.timeout(2000),
  });
  return (await response.json()) as {
    pagerduty: Received<PagerDutyEvent>[];
    slack: Received<SlackMessage>[];
  };
}

/** The first entry `pick` accepts, polled (stack/partition-faults.ts's waitUntil) until `timeoutMs`. */
async function firstReceived<T>(
  what: string,
  timeoutMs: number,
  pick: () => Promise<T | undefined>,
): Promise<T> {
  let found: T | undefined;
  await waitUntil(
    `${what} within ${timeoutMs / 1000} s of the kill`,
    async () => {
      found = await pick();
      return found !== undefined;
    },
    timeoutMs,
  );
  return found as T;
}

/**
 * The scrape time (s since the epoch) of the first raw sample of `selector`
 * after `from` (ms) that `changed` accepts against the last sample before `from`.
 */
async function firstScrapeAt(
  state: StackState,
  selector: string,
  from: number,
  changed: (value: number, before: number | undefined) => boolean,
): Promise<number | undefined> {
  const data = (await promApi(
    state.urls.prometheus,
    `/api/v1/query?query=${encodeURIComponent(`${selector}[3m]`)}`,
  )) as { result: { values: [number, string][] }[] };
  const times: number[] = [];
  for (const series of data.result) {
    const before = series.values.filter(([t]) => t * 1000 < from).at(-1);
    const after = series.values.find(
      ([t, v]) => t * 1000 >= from && changed(Number(v), before && Number(before[1])),
    );
    if (after) times.push(after[0]);
  }
  return times.length > 0 ? Math.min(...times) : undefined;
}

/**
 * Kills the master of the stack on `stateDir` and waits (up to `timeoutMs`) for
 * both notifications. Throws when the drill fails or a notification does not come.
 */
export async function killMasterAndWaitForPage(
  stateDir: string,
  state: StackState,
  timeoutMs = 60_000,
): Promise<FaultToPage> {
  let out = '';
  let err = '';
  // main() sets process.exitCode as a CLI would; this process (a bench, a test worker) keeps its own.
  const exitCode = process.exitCode;
  const code = await main(['node', 'redscope', 'failover', '--crash', '--state-dir', stateDir], {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    isTerminal: () => false,
  });
  process.exitCode = exitCode;
  const killed = /killed \S+ master (\S+) \(pid \d+\) at (\S+)/.exec(out);
  const failedOver = /failover of \S+: \S+ -> (\S+) in ([\d.]+) s/.exec(out);
  if (code !== 0 || !killed?.[1] || !killed[2] || !failedOver?.[1] || !failedOver[2]) {
    throw new Error(`redscope failover --crash failed (exit ${code}):\n${out}${err}`);
  }
  const deadMaster = killed[1];
  const killedAt = Date.parse(killed[2]);
  const page = await firstReceived('PagerDuty event for RedisDown', timeoutMs, async () =>
    (await received(state)).pagerduty.find(
      (e) =>
        e.receivedAt >= killedAt &&
        e.body.event_action === 'trigger' &&
        e.body.payload.summary.includes('RedisDown') &&
        e.body.payload.summary.includes(deadMaster),
    ),
  );
  const chat = await firstReceived('Slack message for RedisFailover', timeoutMs, async () =>
    (await received(state)).slack.find(
      (e) =>
        e.receivedAt >= killedAt &&
        e.body.attachments.some(
          (a) => a.title.startsWith('[FIRING') && a.title.includes('RedisFailover'),
        ),
    ),
  );
  const since = (at: number | undefined) => (at === undefined ? undefined : at - killedAt / 1000);
  const alerts = (await promApi(state.urls.prometheus, '/api/v1/alerts')) as {
    alerts: { labels: Record<string, string>; activeAt: string }[];
  };
  const activeSince = (alertname: string, instance?: string) => {
    const alert = alerts.alerts.find(
      (a) =>
        a.labels.alertname === alertname &&
        (instance === undefined || a.labels.instance === instance),
    );
    return alert ? Date.parse(alert.activeAt) / 1000 : undefined;
  };
  return {
    deadMaster,
    newMaster: failedOver[1],
    killedAt,
    failoverSeconds: Number(failedOver[2]),
    page,
    chat,
    breakdown: {
      downScraped: since(
        await firstScrapeAt(
          state,
          `redis_up{job="redis", instance="${deadMaster}"}`,
          killedAt,
          (value) => value === 0,
        ),
      ),
      downActive: since(activeSince('RedisDown', deadMaster)),
      failoverScraped: since(
        await firstScrapeAt(
          state,
          'redscope_sentinel_config_epoch{job="redis-sentinel"}',
          killedAt,
          (value, before) => before !== undefined && value > before,
        ),
      ),
      failoverActive: since(activeSince('RedisFailover')),
    },
  };
}
