import { compatFamily } from '../exposition.js';
import { numeric, parseKeyValueList } from '../info-parser.js';
import { CONFIG_GET, configValues } from './server-config.js';
import { type Collector, INFO_ALL } from './types.js';

const dbKeys = compatFamily({
  name: 'redis_db_keys',
  type: 'gauge',
  help: 'Total number of keys by DB',
  labels: ['db'],
  source:
    'INFO keyspace: keys (0 for the other DBs up to CONFIG databases; db0 only on a cluster node)',
});
const dbKeysExpiring = compatFamily({
  name: 'redis_db_keys_expiring',
  type: 'gauge',
  help: 'Total number of expiring keys by DB',
  labels: ['db'],
  source: 'INFO keyspace: expires',
});
const dbAvgTtl = compatFamily({
  name: 'redis_db_avg_ttl_seconds',
  type: 'gauge',
  help: 'Avg TTL in seconds',
  labels: ['db'],
  source: 'INFO keyspace: avg_ttl (ms), in seconds',
});

export const keyspaceCollector: Collector = {
  name: 'keyspace',
  modes: ['redis'],
  commands: [INFO_ALL, CONFIG_GET],
  families: [dbKeys, dbKeysExpiring, dbAvgTtl],
  collect(context, sink) {
    const keyspace = context.info().sections.get('keyspace') ?? new Map<string, string>();
    const seen = new Set<string>();
    for (const [db, value] of keyspace) {
      if (!db.startsWith('db')) continue;
      const stats = parseKeyValueList(value);
      seen.add(db);
      sink.add(dbKeys, numeric(stats.get('keys')) ?? 0, db);
      sink.add(dbKeysExpiring, numeric(stats.get('expires')) ?? 0, db);
      const ttl = numeric(stats.get('avg_ttl'));
      if (ttl !== undefined) sink.add(dbAvgTtl, ttl / 1000, db);
    }
    // Empty DBs are absent from INFO; like redis_exporter we report them as 0 so a
    // query for db3 does not go blank when its last key expires. Without CONFIG
    // rights the count is unknown and only the non-empty DBs are reported.
    let databases = 0;
    try {
      databases = numeric(configValues(context).get('databases')) ?? 0;
    } catch {
      databases = 0;
    }
    // A cluster node serves database 0 only (SELECT is refused), whatever `databases` says;
    // redis_exporter reports db0 alone there too.
    if (context.info().fields.get('cluster_enabled') === '1') databases = Math.min(databases, 1);
    for (let i = 0; i < databases; i++) {
      const db = `db${i}`;
      if (seen.has(db)) continue;
      sink.add(dbKeys, 0, db);
      sink.add(dbKeysExpiring, 0, db);
    }
  },
};
