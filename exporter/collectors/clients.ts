import { family } from '../exposition.js';
import type { Collector, RedisCommand } from './types.js';

const CLIENT_LIST: RedisCommand = ['CLIENT', 'LIST'];

/** The `client_name` that collects every name past the cap. */
export const OTHER_CLIENT_NAMES = '__other__';

const clientsByName = family({
  name: 'redscope_redis_clients_by_name',
  type: 'gauge',
  help: `Connected clients per client name (CLIENT SETNAME); names past the cap are counted under ${OTHER_CLIENT_NAMES}`,
  labels: ['client_name'],
  source: 'CLIENT LIST: name',
});

const NAME_FIELD = / name=(\S*)/;

export const clientsCollector: Collector = {
  name: 'clients',
  modes: ['redis'],
  commands: [CLIENT_LIST],
  families: [clientsByName],
  collect(context, sink) {
    const reply = context.reply(CLIENT_LIST);
    const counts = new Map<string, number>();
    for (const line of String(reply).split('\n')) {
      if (line.length === 0) continue;
      const name = NAME_FIELD.exec(line)?.[1] ?? '';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    // The biggest groups keep their own series: a cap on cardinality must not hide
    // the application that holds most of the connections.
    const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const cap = context.options.clientNameCap;
    let other = 0;
    for (const [index, [name, count]] of sorted.entries()) {
      if (index < cap) sink.add(clientsByName, count, name);
      else other += count;
    }
    if (other > 0) sink.add(clientsByName, other, OTHER_CLIENT_NAMES);
  },
};
