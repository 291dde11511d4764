import { compatFamily, type FamilySpec, family } from '../exposition.js';
import { fieldsOf } from '../indexed-records.js';
import { numeric, parseKeyValueList } from '../info-parser.js';
import { type Collector, INFO_ALL, type RedisCommand } from './types.js';

const SENTINEL_MASTERS: RedisCommand = ['SENTINEL', 'MASTERS'];
const masterLabels = ['master_name', 'master_address'];

const infoGauge = (field: string, help: string): [string, FamilySpec] => [
  field,
  compatFamily({
    name: `redis_${field}`,
    type: 'gauge',
    help,
    labels: [],
    source: `INFO sentinel: ${field}`,
  }),
];

const INFO_GAUGES = new Map<string, FamilySpec>([
  infoGauge('sentinel_masters', 'The number of masters this sentinel is watching'),
  infoGauge('sentinel_tilt', 'Sentinel is in TILT mode'),
  infoGauge('sentinel_running_scripts', 'Number of scripts in execution right now'),
  infoGauge('sentinel_scripts_queue_length', 'Queue of user scripts to execute'),
  infoGauge('sentinel_simulate_failure_flags', 'Failures simulations'),
]);

const masterStatus = compatFamily({
  name: 'redis_sentinel_master_status',
  type: 'gauge',
  help: 'Master status on Sentinel (1 when the status is ok)',
  labels: ['master_name', 'master_address', 'master_status'],
  source: 'INFO sentinel: masterN status',
});
const masterSlaves = compatFamily({
  name: 'redis_sentinel_master_slaves',
  type: 'gauge',
  help: 'The number of slaves of the master',
  labels: masterLabels,
  source: 'INFO sentinel: masterN slaves',
});
const masterSentinels = compatFamily({
  name: 'redis_sentinel_master_sentinels',
  type: 'gauge',
  help: 'The number of sentinels monitoring this master',
  labels: masterLabels,
  source: 'INFO sentinel: masterN sentinels',
});
const masterOkSlaves = compatFamily({
  name: 'redis_sentinel_master_ok_slaves',
  type: 'gauge',
  help: 'The number of okay slaves of the master',
  labels: masterLabels,
  source: 'SENTINEL REPLICAS: replicas without s_down, o_down or disconnected flags',
});
const masterOkSentinels = compatFamily({
  name: 'redis_sentinel_master_ok_sentinels',
  type: 'gauge',
  help: 'The number of okay sentinels monitoring this master',
  labels: masterLabels,
  source: 'SENTINEL SENTINELS: peers without s_down, o_down or disconnected flags, plus this one',
});
const ckquorumStatus = compatFamily({
  name: 'redis_sentinel_master_ckquorum_status',
  type: 'gauge',
  help: 'Master ckquorum status',
  labels: ['master_name', 'message'],
  source: 'SENTINEL CKQUORUM',
});

export const sentinelUp = family({
  name: 'redscope_sentinel_up',
  type: 'gauge',
  help: 'Whether the Sentinel answered this scrape (1) or not (0)',
  labels: [],
  source: 'the scrape itself (reported for targets known to be Sentinels)',
});
const masterInfo = family({
  name: 'redscope_sentinel_master_info',
  type: 'gauge',
  help: 'The master this Sentinel currently names for each master group (always 1)',
  labels: masterLabels,
  source: 'SENTINEL MASTERS: name, ip, port',
});
const failoverInProgress = family({
  name: 'redscope_sentinel_failover_in_progress',
  type: 'gauge',
  help: 'Whether this Sentinel is running a failover of the master (1) or not (0)',
  labels: ['master_name'],
  source: 'SENTINEL MASTERS: flags failover_in_progress',
});
const quorumReachable = family({
  name: 'redscope_sentinel_quorum_reachable',
  type: 'gauge',
  help: 'Whether enough Sentinels are reachable to authorise a failover (1) or not (0)',
  labels: ['master_name'],
  source: 'SENTINEL CKQUORUM',
});
const configEpoch = family({
  name: 'redscope_sentinel_config_epoch',
  type: 'gauge',
  help: 'Configuration epoch of the master; it grows by one per completed failover',
  labels: ['master_name'],
  source: 'SENTINEL MASTERS: config-epoch',
});
const agreeingSentinels = family({
  name: 'redscope_sentinel_agreeing_sentinels',
  type: 'gauge',
  help: 'Sentinels usable for a failover vote on this master, this one included',
  labels: ['master_name'],
  source: 'SENTINEL CKQUORUM: the usable Sentinels count of its reply',
});
const replicaLinkUp = family({
  name: 'redscope_sentinel_replica_link_up',
  type: 'gauge',
  help: 'Whether the replica is reachable and its link to the master is ok, as Sentinel sees it',
  labels: ['master_name', 'replica'],
  source: 'SENTINEL REPLICAS: master-link-status and flags',
});
const replicaLag = family({
  name: 'redscope_sentinel_replica_lag_seconds',
  type: 'gauge',
  help: "Seconds the replica's link to its master has been down (0 while it is up), as Sentinel reports it",
  labels: ['master_name', 'replica'],
  source: 'SENTINEL REPLICAS: master-link-down-time (ms), in seconds',
});

const DOWN_FLAGS = /(^|,)(s_down|o_down|disconnected)(,|$)/;

/** A RESP2 flat [k, v, k, v] array as a map of texts. */
function record(value: unknown): Map<string, string> {
  return new Map([...fieldsOf(value)].map(([field, text]) => [field, String(text)]));
}

function records(value: unknown): Map<string, string>[] {
  return Array.isArray(value) ? value.map(record) : [];
}

export const sentinelCollector: Collector = {
  name: 'sentinel',
  modes: ['sentinel'],
  commands: [INFO_ALL, SENTINEL_MASTERS],
  families: [
    ...INFO_GAUGES.values(),
    masterStatus,
    masterSlaves,
    masterSentinels,
    masterOkSlaves,
    masterOkSentinels,
    ckquorumStatus,
    sentinelUp,
    masterInfo,
    failoverInProgress,
    quorumReachable,
    configEpoch,
    agreeingSentinels,
    replicaLinkUp,
    replicaLag,
  ],
  async collect(context, sink) {
    const section = context.info().sections.get('sentinel') ?? new Map<string, string>();
    const addresses = new Map<string, string>();
    for (const [key, value] of section) {
      const spec = INFO_GAUGES.get(key);
      if (spec) {
        const n = numeric(value);
        if (n !== undefined) sink.add(spec, n);
        continue;
      }
      if (!/^master\d+$/.test(key)) continue;
      const master = parseKeyValueList(value);
      const name = master.get('name') ?? '';
      const address = master.get('address') ?? '';
      const status = master.get('status') ?? '';
      addresses.set(name, address);
      sink.add(masterStatus, status === 'ok' ? 1 : 0, name, address, status);
      sink.add(masterSlaves, numeric(master.get('slaves')) ?? 0, name, address);
      sink.add(masterSentinels, numeric(master.get('sentinels')) ?? 0, name, address);
    }

    const masters = records(context.reply(SENTINEL_MASTERS));
    for (const master of masters) {
      const name = master.get('name') ?? '';
      const address = `${master.get('ip') ?? ''}:${master.get('port') ?? ''}`;
      addresses.set(name, addresses.get(name) ?? address);
      sink.add(masterInfo, 1, name, address);
      const flags = master.get('flags') ?? '';
      sink.add(failoverInProgress, flags.includes('failover_in_progress') ? 1 : 0, name);
      const epoch = numeric(master.get('config-epoch'));
      if (epoch !== undefined) sink.add(configEpoch, epoch, name);
    }

    // The second round trip: these commands need the master names of the first.
    const names = [...addresses.keys()];
    const commands: RedisCommand[] = [];
    for (const name of names) {
      commands.push(['SENTINEL', 'CKQUORUM', name]);
      commands.push(['SENTINEL', 'REPLICAS', name]);
      commands.push(['SENTINEL', 'SENTINELS', name]);
    }
    const results = await context.roundTrip(commands);
    names.forEach((name, i) => {
      const address = addresses.get(name) ?? '';
      const [quorum, replicas, sentinels] = results.slice(i * 3, i * 3 + 3);
      if (quorum) {
        // CKQUORUM answers an error reply (NOQUORUM ...) when the quorum is lost: that is data.
        const ok = quorum.status === 'fulfilled';
        const message = ok ? String(quorum.value) : errorMessage(quorum.reason);
        sink.add(ckquorumStatus, ok ? 1 : 0, name, message);
        sink.add(quorumReachable, ok ? 1 : 0, name);
        const usable = /(\d+) usable Sentinels/i.exec(message)?.[1];
        if (usable !== undefined) sink.add(agreeingSentinels, Number(usable), name);
      }
      if (replicas?.status === 'fulfilled') {
        let ok = 0;
        for (const replica of records(replicas.value)) {
          const replicaName = replica.get('name') ?? '';
          const healthy = !DOWN_FLAGS.test(replica.get('flags') ?? '');
          if (healthy) ok++;
          const linkOk = replica.get('master-link-status') === 'ok';
          sink.add(replicaLinkUp, healthy && linkOk ? 1 : 0, name, replicaName);
          const downMs = numeric(replica.get('master-link-down-time')) ?? 0;
          sink.add(replicaLag, downMs / 1000, name, replicaName);
        }
        sink.add(masterOkSlaves, ok, name, address);
      }
      if (sentinels?.status === 'fulfilled') {
        const ok = records(sentinels.value).filter((s) => !DOWN_FLAGS.test(s.get('flags') ?? ''));
        sink.add(masterOkSentinels, ok.length + 1, name, address);
      }
    });
  },
};

function errorMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
