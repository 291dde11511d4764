import { DashboardBuilder, DashboardCursorSync } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Thresholds } from '../../bundle/thresholds.js';
import { annotationBuilders } from './annotations.js';
import { datasourceVariable, environmentVariable, instanceVariable } from './variables.js';

export interface DashboardIdentity {
  readonly uid: string;
  readonly title: string;
  readonly version: number;
  readonly description: string;
  /** The overview aggregates several instances; the drill-down shows one. */
  readonly multiInstance: boolean;
}

/**
 * What every redscope dashboard shares: read-only, 5 s refresh, UTC, shared
 * crosshair, the datasource, environment and instance variables that let one
 * dashboard serve every environment, and the failover, maintenance and warming
 * annotations on every panel.
 */
export function redscopeDashboard(id: DashboardIdentity, t: Thresholds): DashboardBuilder {
  return new DashboardBuilder(id.title)
    .uid(id.uid)
    .version(id.version)
    .description(id.description)
    .tags(['redis', 'redscope'])
    .readonly()
    .refresh('5s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('utc')
    .tooltip(DashboardCursorSync.Crosshair)
    .annotations(annotationBuilders(t))
    .withVariable(datasourceVariable())
    .withVariable(environmentVariable())
    .withVariable(instanceVariable(t.jobs, id.multiInstance));
}
