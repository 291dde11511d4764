import { APP_FAMILY, recordedLevel } from '../../bundle/series.js';
import type { Jobs } from '../../bundle/thresholds.js';
import { findSelectors, type Selector } from './promql-selectors.js';
import { type Definitions, shapeOf, subexpressionShapes } from './promql-shape.js';

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

/** A recording rule as rule files hold it: the linter needs no more. */
export interface RecordingRuleLike {
  readonly record: string;
  readonly expr: string;
}

export interface LintContext {
  readonly jobs: Jobs;
  /** The rules whose series panels must read instead of recomputing them. */
  readonly recordingRules: readonly RecordingRuleLike[];
}

interface Annotation {
  readonly name?: string;
  readonly builtIn?: number;
  readonly expr?: string;
  readonly datasource?: { readonly uid?: string; readonly type?: string };
}

export interface LintableDashboard {
  readonly uid?: string;
  readonly title?: string;
  readonly templating?: { readonly list?: readonly Variable[] };
  readonly annotations?: { readonly list?: readonly Annotation[] };
  readonly panels?: readonly Panel[];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
export const DATASOURCE_VARIABLE = '${datasource}';
const RANGE_FUNCTIONS_NEEDING_RATE_INTERVAL = new Set(['rate', 'irate', 'increase']);

function allPanels(panels: readonly Panel[] = []): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels)]);
}

interface RecordedShape {
  readonly record: string;
  readonly shape: string;
}

/**
 * The shape of each recording rule, the recorded series it reads expanded. A record name
 * defined more than once (one rule per quantile) is not expanded: its rules differ only by
 * their labels, and each is matched by its own shape.
 */
function recordedShapes(rules: readonly RecordingRuleLike[]): RecordedShape[] {
  const count = new Map<string, number>();
  for (const r of rules) count.set(r.record, (count.get(r.record) ?? 0) + 1);
  const definitions: Definitions = new Map(
    rules.filter((r) => count.get(r.record) === 1).map((r) => [r.record, r.expr]),
  );
  return rules.map((r) => ({ record: r.record, shape: shapeOf(r.expr, definitions) }));
}

/** Every problem of one dashboard (parsed JSON); an empty list means it passes. */
export function lintDashboard(json: unknown, context: LintContext): LintProblem[] {
  const recorded = recordedShapes(context.recordingRules);
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
      lintExpr(target.expr, context.jobs, recorded, (rule, message) =>
        report(rule, message, panel),
      );
    }
  }
  for (const annotation of dashboard.annotations?.list ?? []) {
    lintAnnotation(annotation, (rule, message) =>
      problems.push({
        rule,
        dashboard: name,
        message: `annotation "${annotation.name ?? ''}": ${message}`,
      }),
    );
  }
  return problems;
}

type Report = (rule: string, message: string) => void;

function lintExpr(expr: string, jobs: Jobs, recorded: readonly RecordedShape[], report: Report) {
  let selectors: Selector[];
  try {
    selectors = findSelectors(expr);
  } catch (error) {
    report('target-promql-rule', (error as Error).message);
    return;
  }
  for (const s of selectors) lintSelector(s, jobs, report);
  const shapes = subexpressionShapes(expr);
  for (const rule of recorded) {
    if (shapes.has(rule.shape)) {
      report(
        'target-recording-rule',
        `recomputes the recording rule ${rule.record}: query that series, so panel and rules agree`,
      );
    }
  }
}

/**
 * Annotations are events of the whole deployment (a failover, a silence): they filter on
 * the environment like every query, but deliberately not on $instance.
 */
function lintAnnotation(annotation: Annotation, report: Report) {
  if (annotation.builtIn === 1) return;
  if (annotation.datasource?.uid !== DATASOURCE_VARIABLE) {
    report('annotation-datasource-rule', `datasource must be ${DATASOURCE_VARIABLE}`);
  }
  if (!annotation.expr) {
    report('annotation-expr-rule', 'a Prometheus annotation needs an expr');
    return;
  }
  let selectors: Selector[];
  try {
    selectors = findSelectors(annotation.expr);
  } catch (error) {
    report('annotation-promql-rule', (error as Error).message);
    return;
  }
  for (const s of selectors) {
    const filtered = s.matchers.some(
      (m) => m.name === 'environment' && m.op === '=~' && m.value === '$environment',
    );
    if (!filtered) {
      report(
        'annotation-environment-rule',
        `${s.metric || '{...}'} must filter environment=~"$environment"`,
      );
    }
  }
}

function lintSelector(s: Selector, jobs: Jobs, report: Report) {
  const has = (label: string, op: string, value: string) =>
    s.matchers.some((m) => m.name === label && m.op === op && m.value === value);
  const filters = (label: string) => s.matchers.some((m) => m.name === label);
  const what = s.metric || '{...}';
  if (!has('environment', '=~', '$environment')) {
    report('target-environment-rule', `${what} must filter environment=~"$environment"`);
  }
  const level = recordedLevel(s.metric);
  if (level !== undefined) {
    // Aggregation dropped the job label: a job filter would select nothing.
    if (filters('job'))
      report('target-job-rule', `${what} is a recorded series: it has no job label`);
    if (level === 'cluster' && filters('instance')) {
      report(
        'target-instance-rule',
        `${what} is cluster-level: it has no instance label to filter`,
      );
    } else if (level === 'instance' && !has('instance', '=~', '$instance')) {
      report('target-instance-rule', `${what} must filter instance=~"$instance"`);
    }
  } else if (APP_FAMILY.test(s.metric)) {
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
