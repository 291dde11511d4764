import { createHash } from 'node:crypto';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import { instanceDashboard } from './instance.js';
import { overviewDashboard } from './overview.js';

/** File name under grafana/dashboards/ -> dashboard. */
export type GeneratedDashboards = Record<string, Dashboard>;

/**
 * Panel ids must be unique within a dashboard and stable across generations (Grafana
 * keys panel links and state on them); the SDK leaves them unset, so number them in
 * layout order.
 */
function numberPanels(dashboard: Dashboard): Dashboard {
  let id = 0;
  for (const panel of dashboard.panels ?? []) {
    panel.id = ++id;
    if ('panels' in panel && Array.isArray(panel.panels)) {
      for (const nested of panel.panels) nested.id = ++id;
    }
  }
  return dashboard;
}

export function buildDashboards(t: Thresholds): GeneratedDashboards {
  return {
    [`${DASHBOARDS.overview.uid}.json`]: numberPanels(overviewDashboard(t).build()),
    [`${DASHBOARDS.instance.uid}.json`]: numberPanels(instanceDashboard(t).build()),
  };
}

/** The committed JSON text of a dashboard: stable key order as built, two-space indent. */
export function renderDashboard(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

/** Hash of a dashboard's content without its version: what the version lock records. */
export function contentHash(dashboard: Dashboard): string {
  const { version: _version, ...content } = dashboard;
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

/** uid -> version -> content hash, committed as grafana/versions.lock.json. */
export type VersionLock = Record<string, Record<string, string>>;

/** Thrown when a dashboard's content changed but its `version` was not bumped. */
export class VersionNotBumpedError extends Error {
  constructor(uid: string, version: number) {
    super(
      `dashboard ${uid} changed but its version is still ${version}: bump the VERSION constant in grafana/src/ and run npm run generate`,
    );
    this.name = 'VersionNotBumpedError';
  }
}

/**
 * The lock after recording the given dashboards. A known version must keep its hash: the
 * same version with other content is an unbumped change.
 */
export function updateVersionLock(lock: VersionLock, dashboards: Dashboard[]): VersionLock {
  const next: VersionLock = structuredClone(lock);
  for (const dashboard of dashboards) {
    const uid = dashboard.uid ?? '';
    const version = String(dashboard.version ?? 0);
    const hash = contentHash(dashboard);
    const known = next[uid]?.[version];
    if (known !== undefined && known !== hash) {
      throw new VersionNotBumpedError(uid, dashboard.version ?? 0);
    }
    next[uid] = { ...next[uid], [version]: hash };
  }
  return next;
}
