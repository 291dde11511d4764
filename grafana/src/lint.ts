import { findSelectors } from './promql-selectors.js';
import type { Jobs } from './selectors.js';

/**
 * Checks in the spirit of Grafana's dashboard-linter (a Go tool we cannot install here),
 * written against the JSON our generator emits. Each problem names its rule, the dashboard
 * and the panel, so a failing test says what to fix.
 */
export interface LintProblem {
  readonly rule: string;
  readonly dashboard: string;
  readonly panel?: string;
  readonly message: string;
}

interface Target {
  readonly expr?: string;
  readonly datasource?: { readonly uid?: string };
}

interface Panel {
  readonly id?: number;
  readonly type?: string;
  readonly title?: string;
  readonly description?: string;
  readonly datasource?: { readonly uid?: string; readonly type?: string };
  readonly targets?: readonly Target[];
  readonly fieldConfig?: { readonly defaults?: { readonly unit?: string } };
  readonly panels?: readonly Panel[];
}

interface Variable {
  readonly name?: string;
  readonly type?: string;
  readonly query?: unknown;
  readonly datasource?: { readonly uid?: string };
}

export interface LintableDashboard {
  readonly uid?: string;
  readonly title?: string;
  readonly templating?: { readonly list?: readonly Variable[] };
  readonly panels?: readonly Panel[];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
export const DATASOURCE_VARIABLE = '${datasource}';
/** Families that applications export through redscope/client: filtered by job, not instance. */
export const APP_FAMILY = /^redscope_(client|session)_/;
const RANGE_FUNCTIONS_NEEDING_RATE_INTERVAL = new Set(['rate', 'irate', 'increase']);

function allPanels(panels: readonly Panel[] = []): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels)]);
}

/** Every problem of one dashboard (parsed JSON); an empty list means it passes. */
export function lintDashboard(json: unknown, jobs: Jobs): LintProblem[] {
  // Dashboard JSON as read from disk: the shape is the JSON Schema's job, not the type's.
  const dashboard = json as LintableDashboard;
  const name = dashboard.uid ?? dashboard.title ?? '(no uid)';
  const problems: LintProblem[] = [];
  const report = (rule: string, message: string, panel?: Panel) =>
    problems.push({
      rule,
      dashboard: name,
      ...(panel ? { panel: `${panel.id ?? '?'} "${panel.title ?? ''}"` } : {}),
      message,
    });

  const variables = dashboard.templating?.list ?? [];
  const variable = (n: string) => variables.find((v) => v.name === n);
  const ds = variable('datasource');
  if (ds?.type !== 'datasource' || ds.query !== 'prometheus') {
    report(
      'template-datasource-rule',
      'needs a datasource variable "datasource" of type prometheus',
    );
  }
  if (!variable('environment'))
    report('template-environment-rule', 'needs an "environment" variable');
  const instance = variable('instance');
  if (!instance) report('template-instance-rule', 'needs an "instance" variable');
  else if (instance.datasource?.uid !== DATASOURCE_VARIABLE) {
    report('template-instance-rule', `the instance variable must query ${DATASOURCE_VARIABLE}`);
  }

  const seenIds = new Map<number, string>();
  for (const panel of allPanels(dashboard.panels)) {
    if (panel.id === undefined) report('panel-id-rule', 'panel has no id', panel);
    else if (seenIds.has(panel.id)) {
      report('panel-id-rule', `id ${panel.id} is also used by "${seenIds.get(panel.id)}"`, panel);
    } else seenIds.set(panel.id, panel.title ?? '');

    if (!panel.title?.trim()) report('panel-title-description-rule', 'panel has no title', panel);
    if (panel.type === 'row') continue;
    if (!panel.description?.trim()) {
      report('panel-title-description-rule', 'panel has no description', panel);
    }
    if (panel.datasource?.uid !== DATASOURCE_VARIABLE) {
      report('panel-datasource-rule', `panel datasource must be ${DATASOURCE_VARIABLE}`, panel);
    }
    const targets = panel.targets ?? [];
    if (targets.length > 0 && !panel.fieldConfig?.defaults?.unit) {
      report('panel-units-rule', 'panel has queries but no unit', panel);
    }
    for (const target of targets) {
      if (target.datasource && target.datasource.uid !== DATASOURCE_VARIABLE) {
        report('panel-datasource-rule', `query datasource must be ${DATASOURCE_VARIABLE}`, panel);
      }
      if (!target.expr) {
        report('target-expr-rule', 'query has no expr', panel);
        continue;
      }
      lintExpr(target.expr, jobs, (rule, message) => report(rule, message, panel));
    }
  }
  return problems;
}

function lintExpr(expr: string, jobs: Jobs, report: (rule: string, message: string) => void) {
  let selectors: ReturnType<typeof findSelectors>;
  try {
    selectors = findSelectors(expr);
  } catch (error) {
    report('target-promql-rule', (error as Error).message);
    return;
  }
  for (const s of selectors) {
    const has = (label: string, op: string, value: string) =>
      s.matchers.some((m) => m.name === label && m.op === op && m.value === value);
    const what = s.metric || '{...}';
    if (!has('environment', '=~', '$environment')) {
      report('target-environment-rule', `${what} must filter environment=~"$environment"`);
    }
    if (APP_FAMILY.test(s.metric)) {
      if (!has('job', '=', jobs.apps)) {
        report('target-job-rule', `${what} is an app-side family: filter job="${jobs.apps}"`);
      }
    } else if (!has('instance', '=~', '$instance')) {
      report('target-instance-rule', `${what} must filter instance=~"$instance"`);
    }
    if (s.range !== undefined) {
      const fn = s.enclosingFunction ?? '';
      const allowed = RANGE_FUNCTIONS_NEEDING_RATE_INTERVAL.has(fn)
        ? ['$__rate_interval']
        : ['$__rate_interval', '$__range'];
      if (!allowed.includes(s.range)) {
        report(
          'target-rate-interval-rule',
          `${fn || 'range'}(${what}[${s.range}]) must use ${allowed.join(' or ')}`,
        );
      }
    }
  }
}
