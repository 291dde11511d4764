import { HOTKEY_REPORT_INDEX, HOTKEY_REPORT_PREFIX } from '../../client/common/hotkey-report.js';
import { family } from '../exposition.js';
import { HOTKEY_INDEX_READ, HOTKEY_REPORT_SKIPS, readFleetHotKeys } from '../hotkey-reports.js';
import { CLUSTER_NODES, readOnOwnSlot } from './cluster.js';
import { type Collector, INFO_ALL } from './types.js';

const FROM_REPORTS = `the client reports (${HOTKEY_REPORT_PREFIX}*), merged`;
const NO_REPORT = 'no series while no process reports';

const rate = family({
  name: 'redscope_hotkey_rate_per_minute',
  type: 'gauge',
  help: `Accesses per minute to a key, summed over every app process that reports it (redacted key names; ${NO_REPORT})`,
  labels: ['key'],
  source: `${FROM_REPORTS}: rate summed per key`,
});
const redisRate = family({
  name: 'redscope_hotkey_redis_rate_per_minute',
  type: 'gauge',
  help: `Of redscope_hotkey_rate_per_minute, the accesses that reached Redis rather than a near-cache (${NO_REPORT})`,
  labels: ['key'],
  source: `${FROM_REPORTS}: redisRate summed per key`,
});
const processes = family({
  name: 'redscope_hotkey_processes',
  type: 'gauge',
  help: `App processes whose report lists the key (${NO_REPORT})`,
  labels: ['key'],
  source: `${FROM_REPORTS}: reports listing the key`,
});
const overThreshold = family({
  name: 'redscope_hotkey_over_threshold',
  type: 'gauge',
  help: `1 when the key's fleet-wide rate is at or over the threshold, else 0 (${NO_REPORT})`,
  labels: ['key'],
  source: `${FROM_REPORTS}: rate >= the lowest thresholdPerMinute of the reports`,
});
const threshold = family({
  name: 'redscope_hotkey_threshold_per_minute',
  type: 'gauge',
  help: `Accesses per minute from which a key counts as hot: the lowest threshold any report states (${NO_REPORT})`,
  labels: [],
  source: `${FROM_REPORTS}: min thresholdPerMinute`,
});
const keysOverThreshold = family({
  name: 'redscope_hotkey_keys_over_threshold',
  type: 'gauge',
  help: 'Keys at or over the threshold among all reported keys, not only the exported top list (0 without reports)',
  labels: [],
  source: `${FROM_REPORTS}: every merged key`,
});
const reports = family({
  name: 'redscope_hotkey_reports',
  type: 'gauge',
  help: 'Valid hot-key reports read at this scrape: one per app process publishing them',
  labels: [],
  source: `ZREVRANGE ${HOTKEY_REPORT_INDEX} 0 999, then STRLEN and MGET of the reports`,
});
const reportsInvalid = family({
  name: 'redscope_hotkey_reports_invalid',
  type: 'gauge',
  help: 'Hot-key reports skipped at this scrape, by reason: too-large, not-json, invalid (wrong shape, not redacted, not its key), version',
  labels: ['reason'],
  source: 'the reports that do not parse (every reason exported, 0 when none)',
});
const reportAge = family({
  name: 'redscope_hotkey_report_age_seconds',
  type: 'gauge',
  help: `Age of the oldest hot-key report read at this scrape (${NO_REPORT})`,
  labels: [],
  source: `${FROM_REPORTS}: now - min(at)`,
});

/**
 * The fleet-wide hot keys from the app processes' reports. Only a master
 * exports them: the reports replicate, and every node exporting the same list
 * would multiply it in any sum over targets.
 */
export function createHotKeysCollector(settings: { readonly top: number }): Collector {
  return {
    name: 'hotkeys',
    modes: ['redis'],
    commands: [INFO_ALL, HOTKEY_INDEX_READ],
    clusterCommands: [INFO_ALL, CLUSTER_NODES],
    families: [
      rate,
      redisRate,
      processes,
      overThreshold,
      threshold,
      keysOverThreshold,
      reports,
      reportsInvalid,
      reportAge,
    ],
    description:
      `Runs on a master only (INFO replication role), exporting the top ${settings.top} keys ` +
      '(`hotkeys.top`, at most 100) of the reports the app processes publish through ' +
      '`redscope/client`. The per-key families have no series while no process reports; ' +
      'a report that is garbage or too large is skipped and counted in ' +
      '`redscope_hotkey_reports_invalid`, never failing the scrape. On a Redis Cluster the ' +
      'reports share one hash slot (`{hotkeys}`): the master serving it exports them, the ' +
      'other masters nothing, and CLUSTER NODES tells which before the reports are read (a ' +
      'read on another master would be a MOVED error reply in its errorstats).',
    async collect(context, sink) {
      // Checked before the index reply: on a replica an ACL without the hot-key rights costs nothing.
      if (context.info().sections.get('replication')?.get('role') !== 'master') return;
      const index = await readOnOwnSlot(context, HOTKEY_INDEX_READ, HOTKEY_REPORT_INDEX);
      if (index === undefined) return;
      const fleet = await readFleetHotKeys(index, context.roundTrip, { top: settings.top });
      const { merged } = fleet;
      for (const key of merged.keys) {
        sink.add(rate, key.rate, key.key);
        sink.add(redisRate, key.redisRate, key.key);
        sink.add(processes, key.processes, key.key);
        sink.add(overThreshold, key.overThreshold ? 1 : 0, key.key);
      }
      if (merged.thresholdPerMinute !== undefined) sink.add(threshold, merged.thresholdPerMinute);
      sink.add(keysOverThreshold, merged.keysOverThreshold);
      sink.add(reports, merged.reports);
      for (const reason of HOTKEY_REPORT_SKIPS)
        sink.add(reportsInvalid, fleet.invalid[reason], reason);
      if (merged.oldestReportMs !== undefined) {
        sink.add(reportAge, Math.max(0, context.nowSeconds - merged.oldestReportMs / 1000));
      }
    },
  };
}
