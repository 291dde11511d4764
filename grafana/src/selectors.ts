/**
 * Label selectors of dashboard queries. Redis-side series are filtered by the environment
 * and instance variables; app-side series (redscope/client) by environment and the apps
 * job, since their `instance` is an application, not a Redis node. The linter
 * (lint.ts) enforces exactly these rules.
 */
export interface Jobs {
  readonly redis: string;
  readonly sentinel: string;
  readonly exporter: string;
  readonly apps: string;
}

export interface Selectors {
  /** Redis data nodes: `{job="redis", environment=~"$environment", instance=~"$instance"}` plus extras. */
  readonly redis: (extra?: string) => string;
  readonly sentinel: (extra?: string) => string;
  /** Recorded series (no job label): environment and instance only. */
  readonly recorded: (extra?: string) => string;
  readonly apps: (extra?: string) => string;
}

const join = (base: string, extra?: string) => `{${extra ? `${base}, ${extra}` : base}}`;
const ENV = 'environment=~"$environment"';
const INSTANCE = 'instance=~"$instance"';

export function selectors(jobs: Jobs): Selectors {
  return {
    redis: (extra) => join(`job="${jobs.redis}", ${ENV}, ${INSTANCE}`, extra),
    sentinel: (extra) => join(`job="${jobs.sentinel}", ${ENV}, ${INSTANCE}`, extra),
    recorded: (extra) => join(`${ENV}, ${INSTANCE}`, extra),
    apps: (extra) => join(`job="${jobs.apps}", ${ENV}`, extra),
  };
}
