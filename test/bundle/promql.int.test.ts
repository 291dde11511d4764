import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { findSelectors } from '../../grafana/src/promql-selectors.js';
import {
  committedAlertRules,
  committedRecordingRules,
  knownSeriesNames,
  run,
  runbookFiles,
} from './support/bundle.js';
import { committedDashboards, dashboardExpressions, interpolate } from './support/dashboards.js';
import { codeBlocks, readRunbook } from './support/runbooks.js';

interface Expression {
  readonly origin: string;
  readonly expr: string;
}

/** Every PromQL expression the bundle ships: dashboard queries, variable queries, rules, runbooks. */
function allExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const dashboard of Object.values(committedDashboards())) {
    for (const { panel, expr } of dashboardExpressions(dashboard)) {
      out.push({ origin: `${dashboard.uid} "${panel}"`, expr: interpolate(expr) });
    }
    for (const variable of dashboard.templating?.list ?? []) {
      const query = (variable.query as { query?: string } | undefined)?.query;
      const inner = query ? /^label_values\((.*), *\w+\)$/.exec(query)?.[1] : undefined;
      if (inner)
        out.push({ origin: `${dashboard.uid} $${variable.name}`, expr: interpolate(inner) });
    }
  }
  for (const rule of committedAlertRules())
    out.push({ origin: `alert ${rule.alert}`, expr: rule.expr });
  for (const rule of committedRecordingRules())
    out.push({ origin: `record ${rule.record}`, expr: rule.expr });
  for (const file of runbookFiles()) {
    for (const block of codeBlocks(readRunbook(file).sections.get('Diagnosis') ?? '', 'promql')) {
      for (const line of block.split('\n').filter((l) => l.trim() !== '')) {
        out.push({ origin: `runbooks/${file}`, expr: line });
      }
    }
  }
  return out;
}

/** promtool parses expressions inside rule files: one recording rule per expression. */
async function promtoolParses(expressions: readonly Expression[], dir: string) {
  const file = join(dir, `check-${Date.now()}.yml`);
  const rules = expressions.map((e, i) => ({
    record: `redscope_expression_check_${i}`,
    expr: e.expr,
  }));
  writeFileSync(file, yaml.dump({ groups: [{ name: 'expressions', rules }] }, { lineWidth: -1 }));
  return run('promtool', ['check', 'rules', file]);
}

describe('every PromQL expression of the bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-promql-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const expressions = allExpressions();

  it('collects dashboards, variables, rules and runbooks', () => {
    const origins = expressions.map((e) => e.origin.split(' ')[0]);
    for (const kind of ['redscope-overview', 'redscope-instance', 'alert', 'record']) {
      expect(origins).toContain(kind);
    }
    expect(origins.some((o) => o?.startsWith('runbooks/'))).toBe(true);
    expect(expressions.length).toBeGreaterThan(150);
  });

  it('parses with promtool', async () => {
    const result = await promtoolParses(expressions, dir);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`SUCCESS: ${expressions.length} rules found`);
  });

  it('runbook PromQL selects only known metrics', () => {
    const known = knownSeriesNames();
    for (const e of expressions.filter((x) => x.origin.startsWith('runbooks/'))) {
      for (const s of findSelectors(e.expr)) {
        expect(known.has(s.metric), `${e.origin}: ${s.metric}`).toBe(true);
      }
    }
  });

  it('a query with a syntax error fails the check and is named in the output', async () => {
    const broken = [
      ...expressions,
      { origin: 'broken', expr: 'sum(rate(redis_up{job="redis"}[1m])' },
    ];
    const result = await promtoolParses(broken, dir);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/unclosed left parenthesis|parse error/);
  });
});
