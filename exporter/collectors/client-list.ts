import { compatFamily, type FamilySpec } from '../exposition.js';
import type { ClientListConfig } from '../opt-in-config.js';
import { type DroppedSeries, SeriesCap } from '../series-cap.js';
import type { Collector, RedisCommand } from './types.js';

const CLIENT_LIST: RedisCommand = ['CLIENT', 'LIST'];

/** redis_exporter 1.45's labels, `port` last and only with `--export-client-port`. */
const LABELS = ['cmd', 'created_at', 'db', 'flags', 'host', 'idle_since', 'name', 'omem'];

function detailsFamily(includePort: boolean): FamilySpec {
  return compatFamily({
    name: 'redis_connected_clients_details',
    type: 'gauge',
    help: 'Details about connected clients: 1 per client connection (created_at and idle_since in seconds since epoch)',
    labels: includePort ? [...LABELS, 'port'] : LABELS,
    source: 'CLIENT LIST',
    difference:
      'at most `client_list.max_series` (--client-list-max-series) series, the longest-connected ' +
      'clients first; the rest are counted in redscope_exporter_series_dropped_total{collector="client_list"}. ' +
      'IPv6 clients are included (host without brackets); redis_exporter 1.45 leaves them out',
  });
}

/** One connection of a CLIENT LIST reply, with what the labels need. */
export interface ClientConnection {
  readonly id: number;
  /** Seconds since the connection opened. */
  readonly age: number;
  /** Seconds since its last command. */
  readonly idle: number;
  readonly name: string;
  readonly flags: string;
  readonly db: string;
  readonly omem: string;
  readonly cmd: string;
  readonly host: string;
  readonly port: string;
}

const CLIENT_LINE = /^id=(\d+) addr=\S+/;

/**
 * The connections of a CLIENT LIST reply, as redis_exporter reads them: a line
 * that does not start `id=N addr=...`, or whose age or idle is not an integer,
 * is skipped. The address is split at its last colon (`127.0.0.1:5000`,
 * `[::1]:5000`, `::1:5000`, `/tmp/redis.sock:0`); IPv6 brackets are dropped.
 */
export function parseClientList(text: string): ClientConnection[] {
  const out: ClientConnection[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const id = CLIENT_LINE.exec(line)?.[1];
    if (id === undefined) continue;
    const fields = new Map<string, string>();
    for (const part of line.split(' ')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const age = integer(fields.get('age'));
    const idle = integer(fields.get('idle'));
    const addr = fields.get('addr') ?? '';
    const colon = addr.lastIndexOf(':');
    if (age === undefined || idle === undefined || colon <= 0) continue;
    out.push({
      id: Number(id),
      age,
      idle,
      name: fields.get('name') ?? '',
      flags: fields.get('flags') ?? '',
      db: fields.get('db') ?? '',
      omem: fields.get('omem') ?? '',
      cmd: fields.get('cmd') ?? '',
      host: addr.slice(0, colon).replace(/^\[(.*)\]$/, '$1'),
      port: addr.slice(colon + 1),
    });
  }
  return out;
}

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The oldest connections first (then by id, which Redis hands out in order):
 * under the cap, the same long-lived clients keep their series scrape after
 * scrape while short-lived ones come and go past it.
 */
export function oldestFirst(clients: readonly ClientConnection[]): ClientConnection[] {
  return [...clients].sort((a, b) => b.age - a.age || a.id - b.id);
}

/**
 * redis_exporter's `-export-client-list`: one `redis_connected_clients_details`
 * series (value 1) per client connection. Off by default (`client_list.enabled`);
 * capped at `client_list.max_series` per target and scrape.
 */
export function createClientListCollector(
  settings: ClientListConfig,
  droppedSeries: DroppedSeries,
): Collector {
  const details = detailsFamily(settings.includePort);
  return {
    name: 'client_list',
    modes: ['redis'],
    commands: [CLIENT_LIST],
    families: [details],
    description:
      'Off by default (`client_list.enabled`, `--export-client-list`): one series per client ' +
      'connection, the label `port` only with `client_list.include_port` (`--export-client-port`). ' +
      'At most `client_list.max_series` (`--client-list-max-series`, default 200) series per ' +
      'scrape, longest-connected first; the others are counted in ' +
      '`redscope_exporter_series_dropped_total{collector="client_list"}`. Connections alike in ' +
      'every label (a pool opened within one second, without `port`) share one series, as in ' +
      'redis_exporter.',
    collect(context, sink) {
      const clients = oldestFirst(parseClientList(String(context.reply(CLIENT_LIST))));
      const now = Math.floor(context.nowSeconds);
      const cap = new SeriesCap(settings.maxSeries);
      const seen = new Set<string>();
      for (const client of clients) {
        const labels = [
          client.cmd,
          String(now - client.age),
          client.db,
          client.flags,
          client.host,
          String(now - client.idle),
          client.name,
          client.omem,
        ];
        if (settings.includePort) labels.push(client.port);
        // Connections alike in every label (a pool opened within one second) share one
        // series, as in redis_exporter: a second one would be a duplicate series.
        const key = labels.join('\0');
        if (seen.has(key)) continue;
        seen.add(key);
        if (cap.take()) sink.add(details, 1, ...labels);
      }
      droppedSeries.record(sink, context.scope, 'client_list', cap.dropped);
    },
  };
}
