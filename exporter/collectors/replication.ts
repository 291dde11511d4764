import { compatFamily } from '../exposition.js';
import { numeric, parseKeyValueList } from '../info-parser.js';
import { type Collector, INFO_ALL } from './types.js';

const slaveLabels = ['slave_ip', 'slave_port', 'slave_state'];
const masterLabels = ['master_host', 'master_port'];

export const connectedSlaveLag = compatFamily({
  name: 'redis_connected_slave_lag_seconds',
  type: 'gauge',
  help: 'Lag of connected slave',
  labels: slaveLabels,
  source: 'INFO replication: slaveN lag',
});
export const connectedSlaveOffset = compatFamily({
  name: 'redis_connected_slave_offset_bytes',
  type: 'gauge',
  help: 'Offset of connected slave',
  labels: slaveLabels,
  source: 'INFO replication: slaveN offset',
});
export const masterLinkUp = compatFamily({
  name: 'redis_master_link_up',
  type: 'gauge',
  help: 'Master link status on Redis slave',
  labels: masterLabels,
  source: 'INFO replication: master_link_status',
});
const masterLastIo = compatFamily({
  name: 'redis_master_last_io_seconds_ago',
  type: 'gauge',
  help: 'Master last io seconds ago',
  labels: masterLabels,
  source: 'INFO replication: master_last_io_seconds_ago',
});
const masterSyncInProgress = compatFamily({
  name: 'redis_master_sync_in_progress',
  type: 'gauge',
  help: 'Master sync in progress',
  labels: masterLabels,
  source: 'INFO replication: master_sync_in_progress',
});
const slaveReplOffset = compatFamily({
  name: 'redis_slave_repl_offset',
  type: 'gauge',
  help: 'Slave replication offset',
  labels: masterLabels,
  source: 'INFO replication: slave_repl_offset',
});
const slaveInfo = compatFamily({
  name: 'redis_slave_info',
  type: 'gauge',
  help: 'Information about the Redis slave',
  labels: ['master_host', 'master_port', 'read_only'],
  source: 'INFO replication: master_host, master_port, slave_read_only',
});

const SLAVE_LINE = /^slave\d+$/;

export const replicationCollector: Collector = {
  name: 'replication',
  modes: ['redis'],
  commands: [INFO_ALL],
  families: [
    connectedSlaveLag,
    connectedSlaveOffset,
    masterLinkUp,
    masterLastIo,
    masterSyncInProgress,
    slaveReplOffset,
    slaveInfo,
  ],
  collect(context, sink) {
    const replication = context.info().sections.get('replication');
    if (!replication) return;
    for (const [key, value] of replication) {
      if (!SLAVE_LINE.test(key)) continue;
      const slave = parseKeyValueList(value);
      const labels = [slave.get('ip') ?? '', slave.get('port') ?? '', slave.get('state') ?? ''];
      const offset = numeric(slave.get('offset'));
      if (offset !== undefined) sink.add(connectedSlaveOffset, offset, ...labels);
      const lag = numeric(slave.get('lag'));
      if (lag !== undefined) sink.add(connectedSlaveLag, lag, ...labels);
    }
    if (replication.get('role') !== 'slave') return;
    const host = replication.get('master_host') ?? '';
    const port = replication.get('master_port') ?? '';
    sink.add(masterLinkUp, replication.get('master_link_status') === 'up' ? 1 : 0, host, port);
    const lastIo = numeric(replication.get('master_last_io_seconds_ago'));
    if (lastIo !== undefined) sink.add(masterLastIo, lastIo, host, port);
    const syncing = numeric(replication.get('master_sync_in_progress'));
    if (syncing !== undefined) sink.add(masterSyncInProgress, syncing, host, port);
    const offset = numeric(replication.get('slave_repl_offset'));
    if (offset !== undefined) sink.add(slaveReplOffset, offset, host, port);
    sink.add(slaveInfo, 1, host, port, replication.get('slave_read_only') ?? '');
  },
};
