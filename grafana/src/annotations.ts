import { AnnotationQueryBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { jobMatcher } from '../../bundle/series.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import { DATASOURCE } from './panels.js';

/**
 * How long an event stays marked: the annotation is a region from the moment the event
 * shows in the series (a new master, a warming run's record) to this much later. Grafana evaluates annotation queries
 * at a step, raised for long time ranges to stay under Prometheus' 11,000 points; a
 * region this wide is still hit by the step of a 7-day range (55 s).
 */
const EVENT_WINDOW_SECONDS = 60;
const EVENT_WINDOW = `${EVENT_WINDOW_SECONDS}s`;
/** The step at which Grafana evaluates the queries: the scrape interval, so a region starts within 5 s of its event. */
const STEP = '5s';

/** One Prometheus annotation: a query whose series are events, and how Grafana labels them. */
export interface RedscopeAnnotation {
  readonly name: string;
  /** What it marks and from which series, for docs/dashboards.md. */
  readonly description: string;
  /** Every point of every series with a value above 0 marks its time; consecutive points merge into a region. */
  readonly expr: string;
  /** Grafana legend format ({{label}}) of the annotation's title and text. */
  readonly titleFormat: string;
  readonly textFormat: string;
  /** Labels whose values become the annotation's tags. */
  readonly tagKeys: readonly string[];
  readonly iconColor: string;
}

/**
 * The events every redscope dashboard marks on every panel, from metrics only (any
 * Prometheus, no Grafana annotation store): failovers, maintenance silences and cache
 * warming runs. They select on the environment only, not on $instance: a failover is an
 * event of the whole deployment, and its series come from Sentinels and from every node,
 * not from the node a panel shows.
 */
export function redscopeAnnotations(t: Thresholds): RedscopeAnnotation[] {
  const env = 'environment=~"$environment"';
  const sentinel = `${jobMatcher(t.jobs.sentinel)}, ${env}`;
  const redis = `${jobMatcher(t.jobs.redis)}, ${env}`;
  const master = `redscope_cluster_node_info{${redis}, role="master", shard!=""}`;
  const shard = 'environment, cluster, shard';
  return [
    {
      name: 'Failovers (Sentinel)',
      description:
        'A completed Sentinel failover: the config epoch of the master moved on a Sentinel (`redscope_sentinel_config_epoch`), titled with the master name, its text the new master (`redscope_sentinel_master_info`).',
      // The master each Sentinel names, for the Sentinels whose config epoch (one step
      // per completed failover) moved within the window: the new master's address.
      expr: `max by (environment, cluster, master_name, master_address) (
  redscope_sentinel_master_info{${sentinel}}
  and on (environment, cluster, instance, master_name)
  (changes(redscope_sentinel_config_epoch{${sentinel}}[${EVENT_WINDOW}]) > 0)
)`,
      titleFormat: 'Failover of {{master_name}}',
      textFormat:
        'Sentinel promoted {{master_address}} to master of {{master_name}} ({{environment}}/{{cluster}}).',
      tagKeys: ['cluster', 'master_name'],
      iconColor: 'red',
    },
    {
      name: 'Failovers (Redis Cluster)',
      description:
        'A shard of a Redis Cluster changed master: more than one node served it as master within a minute (`redscope_cluster_node_info`, as the Master nodes per shard panel counts them); its text names the master now.',
      // The master now of each shard that had two master nodes within the window. A node
      // that restarts as the same master, a new cluster or a newly named shard marks
      // nothing; two nodes that both claim the shard (a partition) are two annotations.
      expr: `max by (${shard}, instance, node_id) (${master})
and on (${shard})
(
  count by (${shard}) (max by (${shard}, node_id) (max_over_time(${master}[${EVENT_WINDOW}])))
  > 1
)`,
      titleFormat: 'Failover of shard {{shard}}',
      textFormat:
        '{{instance}} (node {{node_id}}) is the master of shard {{shard}} of {{environment}}/{{cluster}} after a failover.',
      tagKeys: ['cluster', 'shard'],
      iconColor: 'red',
    },
    {
      name: 'Maintenance silences',
      description:
        'While Alertmanager holds an active silence (`alertmanager_silences{state="active"}`, from the `alertmanager` scrape job), such as `redscope maintenance start` creates.',
      // Alertmanager's own count; the max merges the replicas of an Alertmanager cluster.
      expr: `max by (environment, cluster) (alertmanager_silences{${jobMatcher(t.jobs.alertmanager)}, ${env}, state="active"}) > 0`,
      titleFormat: 'Maintenance: alerts silenced',
      textFormat:
        'Alertmanager holds active silences ({{environment}}/{{cluster}}): matching alerts notify nobody; redscope maintenance list shows them.',
      tagKeys: ['cluster'],
      iconColor: 'purple',
    },
    {
      name: 'Cache warming',
      description:
        'A warming run, from its status record (`redscope_warming_state`, `redscope_warming_last_update_age_seconds`): while it runs, and a minute after its last update, because most runs end between two scrapes.',
      // Running, or updated within the window: most runs end between two scrapes (the
      // demo's start-up run takes about a second) and are only ever seen finished, so
      // "running" alone would mark almost none. The count merges the same run seen
      // through two masters around a failover.
      expr: `count by (environment, cluster, instance_id, namespace) (
  redscope_warming_state{${redis}, state="running"} == 1
  or
  redscope_warming_last_update_age_seconds{${redis}} < ${EVENT_WINDOW_SECONDS}
)`,
      titleFormat: 'Cache warming of {{namespace}}',
      textFormat: `{{instance_id}} warmed {{namespace}} ({{environment}}/{{cluster}}); marked while it runs and for ${EVENT_WINDOW_SECONDS} s after its last update.`,
      tagKeys: ['cluster', 'namespace'],
      iconColor: 'blue',
    },
  ];
}

/** The annotations as the dashboard JSON holds them (Grafana's Prometheus annotation fields). */
export function annotationBuilders(t: Thresholds): AnnotationQueryBuilder[] {
  return redscopeAnnotations(t).map((a) =>
    new AnnotationQueryBuilder()
      .name(a.name)
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor(a.iconColor)
      .expr(a.expr)
      .step(STEP)
      .titleFormat(a.titleFormat)
      .textFormat(a.textFormat)
      .tagKeys(a.tagKeys.join(','))
      .useValueForTime(false),
  );
}
