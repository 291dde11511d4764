import { readdirSync, readFileSync } from 'node:fs';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { repoPath } from './bundle.js';

/** The committed dashboard JSON files, parsed, keyed by file name. */
export function committedDashboards(): Record<string, Dashboard> {
  const dir = repoPath('grafana', 'dashboards');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f, JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Dashboard]),
  );
}

interface PanelLike {
  readonly type?: string;
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly PanelLike[];
}

/** Every query expression of a dashboard, with the panel title it belongs to. */
export function dashboardExpressions(dashboard: Dashboard): { panel: string; expr: string }[] {
  const walk = (panels: readonly PanelLike[] = []): { panel: string; expr: string }[] =>
    panels.flatMap((p) => [
      ...(p.targets ?? []).flatMap((t) => (t.expr ? [{ panel: p.title ?? '', expr: t.expr }] : [])),
      ...walk(p.panels),
    ]);
  return walk(dashboard.panels as readonly PanelLike[] | undefined);
}

/** A dashboard query as Prometheus would receive it once Grafana fills in its variables. */
export function interpolate(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$environment', '.*')
    .replaceAll('$instance', '.*');
}
