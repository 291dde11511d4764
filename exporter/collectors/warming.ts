import {
  MAX_WARMING_STATUSES,
  WARMING_PREFIX,
  WARMING_STATES,
  WARMING_STATUS_INDEX,
} from '../../client/common/warming-status.js';
import { family } from '../exposition.js';
import {
  progressRatio,
  READ_NOTE,
  readWarmingStatuses,
  WARMING_INDEX_READ,
  WARMING_STATUS_SKIPS,
} from '../warming-statuses.js';
import { CLUSTER_NODES, readOnOwnSlot } from './cluster.js';
import { type Collector, INFO_ALL } from './types.js';

const FROM_STATUS = `the status records (${WARMING_PREFIX}status:*)`;
const PER_RUN = 'per app process and namespace; no series while no run is recorded';
const labels = ['instance_id', 'namespace'];

const state = family({
  name: 'redscope_warming_state',
  type: 'gauge',
  help: `Warming state: 1 for the current one (running, done, cancelled, failed), 0 for the others (${PER_RUN})`,
  labels: [...labels, 'state'],
  source: `${FROM_STATUS}: state`,
});
const warmed = family({
  name: 'redscope_warming_keys_warmed',
  type: 'gauge',
  help: `Keys the warming run wrote so far (${PER_RUN})`,
  labels,
  source: `${FROM_STATUS}: warmed`,
});
const planned = family({
  name: 'redscope_warming_keys_planned',
  type: 'gauge',
  help: `Keys in the warming run's plan (${PER_RUN})`,
  labels,
  source: `${FROM_STATUS}: planned`,
});
const progress = family({
  name: 'redscope_warming_progress_ratio',
  type: 'gauge',
  help: `Share of the plan dealt with, warmed or skipped (already filled by live traffic), 0 to 1 (${PER_RUN})`,
  labels,
  source: `${FROM_STATUS}: (warmed + skipped) / planned`,
});
const duration = family({
  name: 'redscope_warming_duration_seconds',
  type: 'gauge',
  help: `How long the warming run has been going, or took once it ended (${PER_RUN})`,
  labels,
  source: `${FROM_STATUS}: (finishedAt, or now while running) - startedAt`,
});
const errors = family({
  name: 'redscope_warming_errors',
  type: 'gauge',
  help: `Failed attempts of the warming run (loader or Redis errors, retried or not) and unusable values (${PER_RUN})`,
  labels,
  source: `${FROM_STATUS}: errors`,
});
const lastUpdateAge = family({
  name: 'redscope_warming_last_update_age_seconds',
  type: 'gauge',
  help: `Seconds since the warming run last updated its status: a running one that stops updating has stalled (${PER_RUN})`,
  labels,
  source: `${FROM_STATUS}: now - updatedAt`,
});
const records = family({
  name: 'redscope_warming_records',
  type: 'gauge',
  help: `Valid warming status records read at this scrape, one per app process and namespace (the per-run families show the ${MAX_WARMING_STATUSES} most recently updated)`,
  labels: [],
  source: READ_NOTE,
});
const recordsInvalid = family({
  name: 'redscope_warming_records_invalid',
  type: 'gauge',
  help: 'Warming status records skipped at this scrape, by reason: too-large, not-json, invalid (wrong shape, not its key), version',
  labels: ['reason'],
  source: 'the records that do not parse (every reason exported, 0 when none)',
});

/**
 * The warming runs of the app processes, from the status records they keep
 * in Redis. Only a master exports them: the records replicate, and every node
 * exporting them would multiply the runs in any sum over targets.
 */
export const warmingCollector: Collector = {
  name: 'warming',
  modes: ['redis'],
  commands: [INFO_ALL, WARMING_INDEX_READ],
  clusterCommands: [INFO_ALL, CLUSTER_NODES],
  families: [
    state,
    warmed,
    planned,
    progress,
    duration,
    errors,
    lastUpdateAge,
    records,
    recordsInvalid,
  ],
  description:
    'Runs on a master only (INFO replication role), exporting the warming runs the app ' +
    'processes record through `redscope/client` (`clients.warm()`, the session cache, ' +
    '`redscope warm`): one series per (`instance_id`, `namespace`), at most ' +
    `${MAX_WARMING_STATUSES}, most recently updated first. A finished run stays 10 minutes; ` +
    'a running one whose process died drops out after 3 update intervals. A record that is ' +
    'garbage or too large is skipped and counted in `redscope_warming_records_invalid`, ' +
    'never failing the scrape. On a Redis Cluster the records share one hash slot ' +
    '(`{warming}`): the master serving it exports them, the other masters nothing, and ' +
    'CLUSTER NODES tells which before the records are read (a read on another master ' +
    'would be a MOVED error reply in its errorstats).',
  async collect(context, sink) {
    // Checked before the index reply: on a replica an ACL without the warming rights costs nothing.
    if (context.info().sections.get('replication')?.get('role') !== 'master') return;
    const index = await readOnOwnSlot(context, WARMING_INDEX_READ, WARMING_STATUS_INDEX);
    if (index === undefined) return;
    const read = await readWarmingStatuses(index, context.roundTrip);
    const nowMs = context.nowSeconds * 1000;
    for (const status of read.statuses) {
      const run = [status.instance, status.namespace];
      for (const s of WARMING_STATES) sink.add(state, s === status.state ? 1 : 0, ...run, s);
      sink.add(warmed, status.warmed, ...run);
      sink.add(planned, status.planned, ...run);
      sink.add(progress, progressRatio(status), ...run);
      const end = status.state === 'running' ? nowMs : (status.finishedAt ?? status.updatedAt);
      sink.add(duration, Math.max(0, end - status.startedAt) / 1000, ...run);
      sink.add(errors, status.errors, ...run);
      sink.add(lastUpdateAge, Math.max(0, nowMs - status.updatedAt) / 1000, ...run);
    }
    sink.add(records, read.records);
    for (const reason of WARMING_STATUS_SKIPS)
      sink.add(recordsInvalid, read.invalid[reason], reason);
  },
};
