import { jobMatcher } from '../../bundle/series.js';
import type { Jobs } from '../../bundle/thresholds.js';

/**
 * Label selectors of dashboard queries. Redis-side series are filtered by the environment
 * and instance variables; app-side series (redscope/client) by environment and the apps
 * job, since their `instance` is an application, not a Redis node; recorded series have
 * no job label, and cluster-level ones no instance label either. The linter (lint.ts)
 * enforces exactly these rules.
 */
export interface Selectors {
  /** Redis data nodes: `{job="redis", environment=~"$environment", instance=~"$instance"}` plus extras. */
  readonly redis: (extra?: string) => string;
  readonly sentinel: (extra?: string) => string;
  /** Instance-level recorded series (`instance:...`, `instance_cmd:...`): environment and instance. */
  readonly recorded: (extra?: string) => string;
  /**
   * Cluster-level recorded series (`cluster:...`): environment only, so they ignore the
   * instance selection (filtering on a label they lack would hide them).
   */
  readonly clusterRecorded: (extra?: string) => string;
  readonly apps: (extra?: string) => string;
}

const join = (base: string, extra?: string) => `{${extra ? `${base}, ${extra}` : base}}`;
const ENV = 'environment=~"$environment"';
const INSTANCE = 'instance=~"$instance"';

export function selectors(jobs: Jobs): Selectors {
  return {
    redis: (extra) => join(`${jobMatcher(jobs.redis)}, ${ENV}, ${INSTANCE}`, extra),
    sentinel: (extra) => join(`${jobMatcher(jobs.sentinel)}, ${ENV}, ${INSTANCE}`, extra),
    recorded: (extra) => join(`${ENV}, ${INSTANCE}`, extra),
    clusterRecorded: (extra) => join(ENV, extra),
    apps: (extra) => join(`${jobMatcher(jobs.apps)}, ${ENV}`, extra),
  };
}
