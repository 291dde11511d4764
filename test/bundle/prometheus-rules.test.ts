import { readdirSync, readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { InvalidThresholdsError, parseThresholds } from '../../bundle/thresholds.js';
import { findSelectors } from '../../grafana/src/promql-selectors.js';
import { renderRuleFiles } from '../../prometheus/src/rule-files.js';
import {
  committedAlertRules,
  committedRecordingRules,
  knownSeriesNames,
  readYaml,
  repoPath,
  thresholds,
} from './support/bundle.js';

interface PromtoolTestFile {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: {
      alertname: string;
      exp_alerts: {
        exp_labels: Record<string, string>;
        exp_annotations?: Record<string, string>;
      }[];
    }[];
  }[];
}

function promtoolTests(): PromtoolTestFile[] {
  const dir = repoPath('prometheus', 'tests');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.yml'))
    .map((f) => yaml.load(readFileSync(`${dir}/${f}`, 'utf8')) as PromtoolTestFile);
}

describe('prometheus rules (happy path)', () => {
  it('the committed rule files are exactly what thresholds.yaml generates (run npm run generate)', () => {
    for (const [path, text] of Object.entries(renderRuleFiles(thresholds()))) {
      expect(readFileSync(repoPath('prometheus', path), 'utf8'), `prometheus/${path}`).toBe(text);
    }
  });

  it('every alert has a severity, summary, description, value, runbook_url and dashboard_url', () => {
    const t = thresholds();
    const uids = Object.values(DASHBOARDS).map((d) => d.uid);
    const rules = committedAlertRules();
    expect(rules.length).toBeGreaterThanOrEqual(20);
    for (const rule of rules) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations.description.length, rule.alert).toBeGreaterThan(60);
      expect(rule.annotations.value, rule.alert).toContain('$value');
      expect(rule.annotations.runbook_url).toBe(`${t.links.runbookBaseUrl}/${rule.alert}.md`);
      const dashboard = new URL(rule.annotations.dashboard_url.replace(/{{[^}]*}}/g, 'x'));
      expect(`${dashboard.origin}`).toBe(new URL(t.links.grafanaUrl).origin);
      expect(uids, `${rule.alert} links an unknown dashboard`).toContain(
        dashboard.pathname.split('/')[2],
      );
    }
  });

  it('covers every alert the issue asks for, including the exporter being down', () => {
    const names = committedAlertRules().map((r) => r.alert);
    for (const wanted of [
      'RedisDown',
      'RedscopeExporterDown',
      'RedisNoMaster',
      'RedisFailover',
      'RedisSentinelQuorumLost',
      'RedisReplicaLinkDown',
      'RedisReplicationLagHigh',
      'RedisMemoryNearMax',
      'RedisEvictions',
      'RedisRejectedConnections',
      'RedisClientsNearMax',
      'RedisHitRateLow',
      'RedisLatencyHigh',
      'RedisErrorRateHigh',
      'RedisTLSCertificateExpiringSoon',
      'RedisTLSCertificateExpiryImminent',
      'RedisPersistenceFailing',
      'RedscopeExporterScrapeErrors',
      'RedisHotKey',
      'RedisHotKeyNearCacheIneffective',
      'RedisCacheWarmingFailed',
      'RedisCacheWarmingStalled',
      'RedisClusterStateNotOk',
      'RedisClusterSlotsFailing',
      'RedisClusterSlotsPFail',
      'RedisClusterShardMasterDown',
      'RedisClusterShardWithoutReplica',
      'RedisClusterFailover',
    ]) {
      expect(names).toContain(wanted);
    }
    const down = committedAlertRules().find((r) => r.alert === 'RedisDown');
    // `up`, not only `redis_up`: the exporter's /scrape failing for a target pages too.
    expect(down?.expr).toMatch(/(^|[^_])up\{job="redis"\} == 0/);
    expect(committedAlertRules().find((r) => r.alert === 'RedscopeExporterDown')?.expr).toBe(
      'up{job="redscope-exporter"} == 0',
    );
  });

  it('the hot-key alerts compare with the threshold the clients report and count a key once', () => {
    const rules = committedAlertRules();
    for (const [alert, metric] of [
      ['RedisHotKey', 'redscope_hotkey_rate_per_minute'],
      ['RedisHotKeyNearCacheIneffective', 'redscope_hotkey_redis_rate_per_minute'],
    ] as const) {
      const expr = rules.find((r) => r.alert === alert)?.expr ?? '';
      expect(findSelectors(expr).map((s) => s.metric)).toEqual([
        metric,
        'redscope_hotkey_threshold_per_minute',
      ]);
      // max: every master target exports the same merged list; a sum would double a key.
      expect(expr, alert).toContain(`max by (environment, cluster, key) (${metric}{`);
      expect(expr, alert).not.toMatch(/>=?\s*\d/);
    }
  });

  it('the warming alerts count a run once and tell a stall by its progress over the window of thresholds.yaml', () => {
    const rules = committedAlertRules();
    const expr = (alert: string) => rules.find((r) => r.alert === alert)?.expr ?? '';
    const run = 'max by (environment, cluster, instance_id, namespace)';
    const failed = findSelectors(expr('RedisCacheWarmingFailed'));
    expect(failed.map((s) => s.metric)).toEqual([
      'redscope_warming_progress_ratio',
      'redscope_warming_state',
    ]);
    expect(failed[1]?.matchers).toContainEqual({ name: 'state', op: '=', value: 'failed' });
    const stalled = findSelectors(expr('RedisCacheWarmingStalled'));
    // Progress, not redscope_warming_last_update_age_seconds: the app rewrites a running
    // record whether or not a key moved, and one it stops rewriting expires within seconds.
    expect(stalled.map((s) => s.metric)).toEqual([
      'redscope_warming_progress_ratio',
      'redscope_warming_state',
      'redscope_warming_duration_seconds',
      'redscope_warming_progress_ratio',
    ]);
    expect(stalled[1]?.matchers).toContainEqual({ name: 'state', op: '=', value: 'running' });
    const { seconds } = thresholds().alerts.RedisCacheWarmingStalled;
    expect(stalled[3]).toMatchObject({ range: `${seconds}s`, enclosingFunction: 'changes' });
    // A run younger than the window has too few samples to have moved in it.
    expect(expr('RedisCacheWarmingStalled')).toContain(
      `${run} (redscope_warming_duration_seconds{job="redis"}) >= ${seconds}`,
    );
    for (const alert of ['RedisCacheWarmingFailed', 'RedisCacheWarmingStalled']) {
      // max: the records live on the master; two targets exporting one run are one run.
      const aggregations = expr(alert).match(/\b(max|sum|min|avg) by \([^)]*\)/g) ?? [];
      expect(aggregations.length, alert).toBe(findSelectors(expr(alert)).length);
      for (const a of aggregations) expect(a, alert).toBe(run);
    }
  });

  it('critical alerts damp flapping with keep_firing_for', () => {
    for (const rule of committedAlertRules().filter((r) => r.labels.severity === 'critical')) {
      expect(rule.keep_firing_for, rule.alert).toMatch(/^[1-9]\d*[smh]$/);
    }
  });

  it('recording rules follow level:metric:operations', () => {
    for (const rule of committedRecordingRules()) {
      expect(rule.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
    }
  });

  it('rules select only metrics of the naming contract or of redis_exporter 1.45', () => {
    const known = knownSeriesNames();
    for (const rule of [...committedAlertRules(), ...committedRecordingRules()]) {
      for (const s of findSelectors(rule.expr)) {
        expect(known.has(s.metric), `${s.metric} in ${rule.expr}`).toBe(true);
      }
    }
  });

  it('every alert has a promtool case where it fires with its runbook_url and one where it does not', () => {
    const rules = committedAlertRules();
    const files = promtoolTests();
    for (const file of files.filter((f) => f.tests.some((t) => t.alert_rule_test))) {
      expect(file.rule_files).toContain('../rules/redscope-alerts.yml');
    }
    const cases = files.flatMap((f) => f.tests.flatMap((t) => t.alert_rule_test ?? []));
    for (const rule of rules) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      const firing = mine.filter((c) => c.exp_alerts.length > 0);
      expect(firing.length, `${rule.alert} never fires in prometheus/tests`).toBeGreaterThan(0);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${rule.alert} has no case where it stays quiet`,
      ).toBe(true);
      for (const c of firing) {
        for (const alert of c.exp_alerts) {
          expect(alert.exp_labels.severity, rule.alert).toBe(rule.labels.severity);
          expect(alert.exp_annotations?.runbook_url, rule.alert).toBe(rule.annotations.runbook_url);
        }
      }
    }
  });

  it('prometheus.yml uses the job names the rules select on and loads the generated rule files', () => {
    const t = thresholds();
    const config = readYaml<{
      rule_files: string[];
      global: { scrape_interval: string; evaluation_interval: string };
      scrape_configs: { job_name: string; metrics_path?: string }[];
    }>('prometheus', 'prometheus.yml');
    const jobs = config.scrape_configs.map((s) => s.job_name).sort();
    expect(jobs).toEqual(Object.values(t.jobs).sort());
    expect(config.global).toMatchObject({ scrape_interval: '5s', evaluation_interval: '5s' });
    expect(config.rule_files).toEqual(['rules/*.yml']);
    for (const job of [t.jobs.redis, t.jobs.sentinel]) {
      expect(config.scrape_configs.find((s) => s.job_name === job)?.metrics_path).toBe('/scrape');
    }
  });
});

describe('prometheus rules (unhappy path)', () => {
  const valid = readFileSync(repoPath('prometheus', 'thresholds.yaml'), 'utf8');

  it('rejects a thresholds file with a ratio above 1, naming the knob', () => {
    const broken = valid.replace(/ratio: 0\.9\n/, 'ratio: 9\n');
    expect(() => parseThresholds(broken)).toThrow(InvalidThresholdsError);
    expect(() => parseThresholds(broken)).toThrow(/\/alerts\/RedisMemoryNearMax\/ratio/);
  });

  it('rejects a thresholds file that drops an alert or mistypes a duration', () => {
    expect(() =>
      parseThresholds(valid.replace(/ {2}RedisEvictions:\n/, '  RedisEvictionz:\n')),
    ).toThrow(/RedisEvictions|RedisEvictionz/);
    expect(() => parseThresholds(valid.replace('for: 30s', 'for: 30 seconds'))).toThrow(/for/);
  });

  it('rejects a thresholds file whose hot-key alert lost its for or grew a number of its own', () => {
    const noFor = valid.replace(
      /( {2}RedisHotKey:\n(?: {4}#.*\n)*) {4}for: \S+\n/,
      '$1    keepFiringFor: 1m\n',
    );
    expect(noFor).not.toBe(valid);
    expect(() => parseThresholds(noFor)).toThrow(
      /\/alerts\/RedisHotKey must have required property 'for'/,
    );
    const copy = valid.replace(/( {2}RedisHotKey:\n)/, '$1    perMinute: 1000\n');
    expect(() => parseThresholds(copy)).toThrow(
      /\/alerts\/RedisHotKey must NOT have additional properties/,
    );
  });

  it('rejects a warming stall window PromQL cannot take: 0, a fraction or a duration string', () => {
    for (const [bad, problem] of [
      ['0', 'must be >= 1'],
      ['90.5', 'must be integer'],
      ['2m', 'must be integer'],
    ] as const) {
      const text = valid.replace(
        /( {2}RedisCacheWarmingStalled:\n(?: {4}#.*\n)*) {4}seconds: \S+\n/,
        `$1    seconds: ${bad}\n`,
      );
      expect(text).not.toBe(valid);
      expect(() => parseThresholds(text), bad).toThrow(
        `/alerts/RedisCacheWarmingStalled/seconds ${problem}`,
      );
    }
  });

  it('a changed threshold changes the generated rules, so drift is visible', () => {
    const changed = parseThresholds(valid.replace(/ratio: 0\.9\n/, 'ratio: 0.8\n'));
    const files = renderRuleFiles(changed);
    expect(files['rules/redscope-alerts.yml']).toContain(
      'instance:redis_memory_used_per_max:ratio > 0.8',
    );
    expect(files['rules/redscope-alerts.yml']).not.toBe(
      readFileSync(repoPath('prometheus', 'rules', 'redscope-alerts.yml'), 'utf8'),
    );
  });
});
