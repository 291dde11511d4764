import { ReplyError } from 'ioredis';
import type { KeyRedactor } from '../../client/common/key-redaction.js';
import { family, type MetricSink } from '../exposition.js';
import { settledValue } from '../indexed-records.js';
import { parseScanReply, scanWindowEnd } from '../keys/key-scan.js';
import { RecentMap } from '../recent-map.js';
import { type CollectContext, type Collector, INFO_ALL, type RedisCommand } from './types.js';

export interface HotKeysLfuSettings {
  /** Redacts the sampled key names with the deployment's secret, so labels match the client reports'. */
  readonly redactor: KeyRedactor;
  /** Keys SCANned per scrape at most. */
  readonly sampleKeys: number;
  /** SCAN's COUNT hint per call. */
  readonly scanCount: number;
  /** Keys exported, hottest first. */
  readonly top: number;
  /** Time the sampling may take per scrape (it also stops at half the scrape's remaining budget). */
  readonly budgetMs: number;
}

export type LfuUnavailable = 'not-lfu-policy' | 'noperm' | 'error';

const LOWER_FIDELITY =
  'the server-side fallback, lower fidelity than redscope_hotkey_rate_per_minute from client reports';

const available = family({
  name: 'redscope_hotkey_lfu_available',
  type: 'gauge',
  help: `Whether the LFU hot-key sampler could run: 1 with reason="ok", else 0 with reason not-lfu-policy, noperm or error (${LOWER_FIDELITY})`,
  labels: ['reason'],
  source: 'INFO memory maxmemory_policy; the SCAN and OBJECT FREQ replies',
});
const frequency = family({
  name: 'redscope_hotkey_lfu_frequency',
  type: 'gauge',
  help: `OBJECT FREQ (logarithmic 0-255 access counter that decays) of the hottest keys of a bounded SCAN sample, names redacted (${LOWER_FIDELITY})`,
  labels: ['key'],
  source: 'SCAN (bounded sample, cursor kept across scrapes) + OBJECT FREQ per key',
});
const keysSampled = family({
  name: 'redscope_hotkey_lfu_keys_sampled',
  type: 'gauge',
  help: 'Keys whose OBJECT FREQ the LFU sampler read at this scrape: the SCAN sample plus the previous top keys',
  labels: [],
  source: 'SCAN + OBJECT FREQ',
});

/**
 * Scopes (target and credentials) whose SCAN position is remembered; past
 * this, the longest-unscraped is forgotten.
 */
const MAX_REMEMBERED_SCOPES = 256;

/** Where the sampling of one scope stands between scrapes: raw key names stay in this process. */
interface Walk {
  readonly cursor: string;
  /** The previous scrape's top keys, read again first so a hot key found once stays until it cools. */
  readonly candidates: readonly string[];
}

class Unavailable extends Error {
  constructor(readonly reason: LfuUnavailable) {
    super(reason);
  }
}

/** Why a command of the sampler failed, as an unavailability reason. */
function unavailableReason(error: Error): LfuUnavailable {
  if (!(error instanceof ReplyError)) return 'error';
  if (error.message.startsWith('NOPERM')) return 'noperm';
  if (/LFU maxmemory policy is not selected/i.test(error.message)) return 'not-lfu-policy';
  return 'error';
}

/**
 * Server-side hot keys for apps that do not use redscope/client: on a Redis
 * whose maxmemory-policy is an LFU one, OBJECT FREQ of a bounded SCAN sample.
 * Each scrape continues the SCAN where the last one stopped, so scrape after
 * scrape the sample walks the whole keyspace, and reads the previous top keys
 * again: on a keyspace larger than the sample, a hot key is found within
 * (keys / sampleKeys) scrapes and then kept while it stays hot. Built per
 * exporter, off by default (`hotkeys.lfu.enabled`).
 */
export function createHotKeysLfuCollector(settings: HotKeysLfuSettings): Collector {
  // Per scope: a key name one user may see is never a candidate for another's scrape.
  const walks = new RecentMap<string, Walk>(MAX_REMEMBERED_SCOPES);

  const remember = (scope: string, walk: Walk | undefined) => {
    if (walk === undefined) walks.delete(scope);
    else walks.set(scope, walk);
  };

  return {
    name: 'hotkeys_lfu',
    modes: ['redis'],
    commands: [INFO_ALL],
    families: [available, frequency, keysSampled],
    description:
      'Off by default (`hotkeys.lfu.enabled`): the lower-fidelity server-side source for apps ' +
      `that do not use redscope/client. Reads OBJECT FREQ of at most \`hotkeys.lfu.sample_keys\` ` +
      'keys per scrape (SCAN continues where the previous scrape stopped) within ' +
      '`hotkeys.lfu.budget_seconds` and half of the scrape budget, and exports the top ' +
      '`hotkeys.lfu.top` with redacted names. Without an LFU maxmemory-policy, or without the ' +
      'ACL rights, it exports `redscope_hotkey_lfu_available{reason} 0` and no other series.',
    async collect(context, sink) {
      const policy = context.info().sections.get('memory')?.get('maxmemory_policy');
      // A fork without the field is tried anyway: OBJECT FREQ says whether it tracks frequency.
      if (policy !== undefined && !policy.endsWith('-lfu')) {
        remember(context.scope, undefined);
        sink.add(available, 0, 'not-lfu-policy');
        return;
      }
      let frequencies: Map<string, number>;
      let cursor: string;
      try {
        ({ frequencies, cursor } = await sample(context, walks.peek(context.scope), settings));
      } catch (error) {
        if (!(error instanceof Unavailable)) throw error;
        remember(context.scope, undefined);
        sink.add(available, 0, error.reason);
        return;
      }
      const hottest = [...frequencies]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, settings.top);
      remember(context.scope, { cursor, candidates: hottest.map(([key]) => key) });
      sink.add(available, 1, 'ok');
      sink.add(keysSampled, frequencies.size);
      writeFrequencies(sink, hottest, settings.redactor);
    },
  };
}

/** One label per redacted name: two raw keys that redact alike (a hash collision) keep the higher count. */
function writeFrequencies(
  sink: MetricSink,
  hottest: readonly (readonly [string, number])[],
  redactor: KeyRedactor,
): void {
  const labels = new Set<string>();
  for (const [key, count] of hottest) {
    const label = redactor.redact(key);
    if (labels.has(label)) continue;
    labels.add(label);
    sink.add(frequency, count, label);
  }
}

/**
 * The frequencies of the previous top keys and of the next SCAN sample. Each
 * round trip carries the OBJECT FREQ of the keys the previous SCAN returned
 * with the next SCAN, so a sample of n keys costs about n / scanCount round trips.
 */
async function sample(
  context: CollectContext,
  walk: Walk | undefined,
  settings: HotKeysLfuSettings,
): Promise<{ frequencies: Map<string, number>; cursor: string }> {
  const until = scanWindowEnd(Date.now(), settings.budgetMs, context.deadline);
  const frequencies = new Map<string, number>();
  const asked = new Set<string>(walk?.candidates ?? []);
  let pending = [...asked];
  let cursor = walk?.cursor ?? '0';
  // SCAN from 0 ends at 0 once; started mid-way, it may wrap to 0 once more to fill the sample.
  let wrapsLeft = cursor === '0' ? 1 : 2;
  let scanned = 0;
  for (;;) {
    const scanMore = scanned < settings.sampleKeys && wrapsLeft > 0 && Date.now() < until;
    const commands: RedisCommand[] = pending.map((key) => ['OBJECT', 'FREQ', key]);
    if (scanMore) commands.push(['SCAN', cursor, 'COUNT', String(settings.scanCount)]);
    if (commands.length === 0) break;
    const results = await context.roundTrip(commands);
    pending.forEach((key, i) => {
      const value = settledValue(results[i]);
      if (value instanceof Error) throw new Unavailable(unavailableReason(value));
      // nil: the key is gone since SCAN named it.
      if (typeof value === 'number') frequencies.set(key, value);
    });
    pending = [];
    if (!scanMore) break;
    const reply = settledValue(results[commands.length - 1]);
    if (reply instanceof Error) throw new Unavailable(unavailableReason(reply));
    const scan = parseScanReply(reply);
    if (scan === undefined) throw new Unavailable('error');
    cursor = scan.cursor;
    if (cursor === '0') wrapsLeft--;
    for (const key of scan.keys) {
      if (typeof key !== 'string' || asked.has(key) || scanned >= settings.sampleKeys) continue;
      asked.add(key);
      pending.push(key);
      scanned++;
    }
  }
  return { frequencies, cursor };
}
