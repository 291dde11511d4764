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

interface TargetLike {
  readonly expr?: string;
  readonly refId?: string;
  readonly legendFormat?: string;
  readonly instant?: boolean;
}

interface PanelLike {
  readonly type?: string;
  readonly title?: string;
  readonly targets?: readonly TargetLike[];
  readonly panels?: readonly PanelLike[];
}

/** One query of a panel, as the committed JSON holds it (variables not substituted). */
export interface DashboardQuery {
  readonly panel: string;
  readonly refId: string;
  /** The legend format ('' for table columns, which have none). */
  readonly legend: string;
  readonly expr: string;
  /** Grafana asks for one instant (tables); otherwise a range over the dashboard's time range. */
  readonly instant: boolean;
}

/** Every query of a dashboard, rows' nested panels included, in layout order. */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const walk = (panels: readonly PanelLike[] = []): DashboardQuery[] =>
    panels.flatMap((p) => [
      ...(p.targets ?? []).flatMap((t) =>
        t.expr
          ? [
              {
                panel: p.title ?? '',
                refId: t.refId ?? '',
                legend: t.legendFormat ?? '',
                expr: t.expr,
                instant: !!t.instant,
              },
            ]
          : [],
      ),
      ...walk(p.panels),
    ]);
  return walk(dashboard.panels as readonly PanelLike[] | undefined);
}

/** Every query expression of a dashboard, with the panel title it belongs to. */
export function dashboardExpressions(dashboard: Dashboard): { panel: string; expr: string }[] {
  return dashboardQueries(dashboard).map(({ panel, expr }) => ({ panel, expr }));
}

/** A Prometheus annotation of a dashboard (Grafana's legacy fields, which our generator writes). */
export interface DashboardAnnotation {
  readonly name: string;
  readonly expr: string;
  readonly titleFormat?: string;
  readonly textFormat?: string;
  readonly tagKeys?: string;
  readonly step?: string;
  readonly enable?: boolean;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
}

/** The annotations of a dashboard that query Prometheus (the built-in ones have no expr). */
export function dashboardAnnotations(dashboard: Dashboard): DashboardAnnotation[] {
  const list = (dashboard.annotations?.list ?? []) as readonly Partial<DashboardAnnotation>[];
  return list.filter((a): a is DashboardAnnotation => typeof a.expr === 'string');
}

/** Values of Grafana's variables as Prometheus receives them (regex values already escaped). */
export interface GrafanaVariables {
  readonly environment: string;
  readonly instance: string;
  /** $__rate_interval */
  readonly rateInterval: string;
  /** $__range */
  readonly range: string;
}

/** A dashboard query with Grafana's variables filled in. */
export function substitute(expr: string, v: GrafanaVariables): string {
  return expr
    .replaceAll('$__rate_interval', v.rateInterval)
    .replaceAll('$__range', v.range)
    .replaceAll('$environment', v.environment)
    .replaceAll('$instance', v.instance);
}

/** A dashboard query as Prometheus would receive it once Grafana fills in its variables (any environment, any instance). */
export function interpolate(expr: string): string {
  return substitute(expr, { environment: '.*', instance: '.*', rateInterval: '1m', range: '1h' });
}
