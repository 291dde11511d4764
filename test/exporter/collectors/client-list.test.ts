import { describe, expect, it } from 'vitest';
import {
  createClientListCollector,
  oldestFirst,
  parseClientList,
} from '../../../exporter/collectors/client-list.js';
import type { CollectContext, RedisCommand } from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import { DroppedSeries } from '../../../exporter/series-cap.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';

const NOW = 1_700_000_000;

function context(clientList: string, target = 'redis://127.0.0.1:6379'): CollectContext {
  const reply = (command: RedisCommand) => {
    if (command.join(' ') !== 'CLIENT LIST') throw new Error(`${command.join(' ')} not expected`);
    return clientList;
  };
  return {
    reply,
    info: () => parseInfo(''),
    roundTrip: async () => {
      throw new Error('no round trip expected');
    },
    roundTripOn: async () => {
      throw new Error('no round trip on another database expected');
    },
    connection: {},
    mode: 'redis',
    target,
    scope: `${target} test`,
    deadline: Date.now() + 10_000,
    options: { clientNameCap: 2 },
    // A fraction of a second: created_at and idle_since are whole seconds, as in redis_exporter.
    nowSeconds: NOW + 0.75,
  };
}

/** A Redis 7.0 CLIENT LIST line. */
function line(id: number, addr: string, age: number, idle: number, extra = ''): string {
  return (
    `id=${id} addr=${addr} laddr=127.0.0.1:6379 fd=8 name=${extra} age=${age} idle=${idle} flags=N db=0 ` +
    'sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 ' +
    'oll=0 omem=0 tot-mem=1800 events=r cmd=get user=default redir=-1 resp=2'
  );
}

const REPLY = [
  'id=4 addr=10.0.0.7:57756 laddr=10.0.0.1:6379 fd=7 name=worker age=600 idle=5 flags=P db=3 sub=1 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=16 tot-mem=1856 events=r cmd=subscribe user=default redir=-1 resp=2',
  'id=48 addr=[::1]:50130 laddr=[::1]:6379 fd=8 name= age=9 idle=9 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=command|docs user=default redir=-1 resp=2',
  'id=50 addr=fd40:1481:21:dbe0:7021:300:a03:1a06:44426 fd=19 name= age=782 idle=0 flags=N db=0 omem=0 cmd=client',
  '',
].join('\n');

async function collect(
  text: string,
  settings: { includePort?: boolean; maxSeries?: number } = {},
  dropped = new DroppedSeries(),
) {
  const collector = createClientListCollector(
    {
      enabled: true,
      includePort: settings.includePort ?? false,
      maxSeries: settings.maxSeries ?? 200,
    },
    dropped,
  );
  const sink = new MetricSink();
  await collector.collect(context(text), sink);
  return parseExposition(sink.render());
}

describe('the client list collector', () => {
  describe('happy', () => {
    it("parses CLIENT LIST with redis_exporter's fields, IPv4 and both IPv6 address forms", () => {
      const clients = parseClientList(REPLY);
      expect(clients.map((c) => [c.host, c.port])).toEqual([
        ['10.0.0.7', '57756'],
        ['::1', '50130'],
        ['fd40:1481:21:dbe0:7021:300:a03:1a06', '44426'],
      ]);
      expect(clients[0]).toMatchObject({
        id: 4,
        age: 600,
        idle: 5,
        name: 'worker',
        flags: 'P',
        db: '3',
        omem: '16',
        cmd: 'subscribe',
      });
    });

    it("writes one series per connection with redis_exporter 1.45's labels and no port by default", async () => {
      const parsed = await collect(REPLY);
      const family = parsed.get('redis_connected_clients_details');
      expect(family?.type).toBe('gauge');
      expect([...(family?.labelNames ?? [])].sort()).toEqual([
        'cmd',
        'created_at',
        'db',
        'flags',
        'host',
        'idle_since',
        'name',
        'omem',
      ]);
      expect(family?.samples).toHaveLength(3);
      expect(
        sampleValue(parsed, 'redis_connected_clients_details', {
          cmd: 'subscribe',
          created_at: String(NOW - 600),
          db: '3',
          flags: 'P',
          host: '10.0.0.7',
          idle_since: String(NOW - 5),
          name: 'worker',
          omem: '16',
        }),
      ).toBe(1);
    });

    it('adds the port label only when asked', async () => {
      const parsed = await collect(REPLY, { includePort: true });
      const family = parsed.get('redis_connected_clients_details');
      expect(family?.labelNames.has('port')).toBe(true);
      expect(family?.samples.map((s) => s.labels.port).sort()).toEqual(['44426', '50130', '57756']);
    });

    it('keeps the longest-connected clients under the cap and counts the rest, scrape after scrape', async () => {
      const text = [
        line(10, '10.0.0.1:1000', 5, 1),
        line(11, '10.0.0.1:1001', 500, 1),
        line(12, '10.0.0.1:1002', 50, 1),
        line(13, '10.0.0.1:1003', 500, 2),
      ].join('\n');
      const dropped = new DroppedSeries();
      const first = await collect(text, { maxSeries: 2, includePort: true }, dropped);
      expect(
        first.get('redis_connected_clients_details')?.samples.map((s) => s.labels.port),
      ).toEqual(['1001', '1003']);
      expect(
        sampleValue(first, 'redscope_exporter_series_dropped_total', { collector: 'client_list' }),
      ).toBe(2);
      const second = await collect(text, { maxSeries: 2, includePort: true }, dropped);
      expect(
        sampleValue(second, 'redscope_exporter_series_dropped_total', { collector: 'client_list' }),
      ).toBe(4);
    });

    it('records the dropped counter at 0 when nothing passed the cap, so the series exists', async () => {
      const parsed = await collect(REPLY);
      expect(
        sampleValue(parsed, 'redscope_exporter_series_dropped_total', { collector: 'client_list' }),
      ).toBe(0);
    });

    it('writes one series for connections alike in every label, as redis_exporter does', async () => {
      const text = [line(1, '10.0.0.1:1000', 7, 7), line(2, '10.0.0.1:1001', 7, 7)].join('\n');
      const parsed = await collect(text, { maxSeries: 1 });
      expect(parsed.get('redis_connected_clients_details')?.samples).toHaveLength(1);
      // The twin is not a dropped series: it would have been a duplicate.
      expect(
        sampleValue(parsed, 'redscope_exporter_series_dropped_total', { collector: 'client_list' }),
      ).toBe(0);
      const withPort = await collect(text, { includePort: true });
      expect(withPort.get('redis_connected_clients_details')?.samples).toHaveLength(2);
    });

    it('orders oldest first, then by id', () => {
      const ids = oldestFirst(
        parseClientList(
          [line(3, 'a:1', 10, 0), line(1, 'a:2', 10, 0), line(2, 'a:3', 20, 0)].join('\n'),
        ),
      ).map((c) => c.id);
      expect(ids).toEqual([2, 1, 3]);
    });
  });

  describe('unhappy', () => {
    it('skips lines redis_exporter skips: no id/addr start, or an age or idle that is not an integer', () => {
      const clients = parseClientList(
        [
          'garbage line',
          'addr=10.0.0.1:1 id=1 age=1 idle=1',
          line(2, '10.0.0.1:2', Number.NaN, 1),
          'id=3 addr=nocolon age=1 idle=1',
          line(4, '10.0.0.1:4', 1, 1),
        ].join('\r\n'),
      );
      expect(clients.map((c) => c.id)).toEqual([4]);
    });

    it('throws the CLIENT LIST error so only this collector fails', async () => {
      const collector = createClientListCollector(
        { enabled: true, includePort: false, maxSeries: 10 },
        new DroppedSeries(),
      );
      const ctx = {
        ...context(''),
        reply: () => {
          throw new Error("NOPERM this user has no permissions to run the 'client|list' command");
        },
      };
      expect(() => collector.collect(ctx, new MetricSink())).toThrow(/NOPERM/);
    });
  });
});
