import { compatFamily } from '../exposition.js';
import { fieldsOf } from '../indexed-records.js';
import { numeric } from '../info-parser.js';
import type { CollectContext, Collector, RedisCommand } from './types.js';

/** One CONFIG GET for every setting any collector reads (Redis 7 takes several names). */
export const CONFIG_GET: RedisCommand = [
  'CONFIG',
  'GET',
  'maxclients',
  'maxmemory',
  'io-threads',
  'databases',
];

/** The CONFIG GET reply as a map; throws the command's error (e.g. NOPERM). */
export function configValues(context: CollectContext): Map<string, string> {
  const reply = context.reply(CONFIG_GET);
  return new Map([...fieldsOf(reply)].map(([name, value]) => [name, String(value)]));
}

const settings = [
  ['maxclients', 'redis_config_maxclients'],
  ['maxmemory', 'redis_config_maxmemory'],
  ['io-threads', 'redis_config_io_threads'],
] as const;

const families = settings.map(([setting, name]) =>
  compatFamily({
    name,
    type: 'gauge',
    help: `CONFIG GET ${setting}`,
    labels: [],
    source: `CONFIG GET ${setting}`,
  }),
);

export const serverConfigCollector: Collector = {
  name: 'config',
  modes: ['redis'],
  commands: [CONFIG_GET],
  families,
  collect(context, sink) {
    const values = configValues(context);
    settings.forEach(([setting], i) => {
      const value = numeric(values.get(setting));
      const spec = families[i];
      if (value !== undefined && spec) sink.add(spec, value);
    });
  },
};
