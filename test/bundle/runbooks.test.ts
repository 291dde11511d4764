import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { committedAlertRules, repoPath, runbookFiles, thresholds } from './support/bundle.js';
import {
  codeBlocks,
  diagnosisCommands,
  parseRunbook,
  REQUIRED_SECTIONS,
  type Runbook,
  readRunbook,
} from './support/runbooks.js';

interface AlertLike {
  readonly alert: string;
  readonly labels: { readonly severity: string };
  readonly annotations: { readonly runbook_url: string };
}

/** Problems of the runbook set against the alert rules; empty when all is well. */
function crossCheck(
  alerts: readonly AlertLike[],
  runbooks: readonly Runbook[],
  baseUrl: string,
): string[] {
  const problems: string[] = [];
  const byFile = new Map(runbooks.map((r) => [r.file, r]));
  for (const alert of alerts) {
    const file = `${alert.alert}.md`;
    const runbook = byFile.get(file);
    if (!runbook) problems.push(`${alert.alert} has no runbooks/${file}`);
    else if (!runbook.preamble.includes(`Severity: **${alert.labels.severity}**`)) {
      problems.push(`runbooks/${file} does not state severity ${alert.labels.severity}`);
    }
    if (alert.annotations.runbook_url !== `${baseUrl}/${file}`) {
      problems.push(
        `${alert.alert}: runbook_url ${alert.annotations.runbook_url} is not ${baseUrl}/${file}`,
      );
    }
  }
  const names = new Set(alerts.map((a) => a.alert));
  for (const runbook of runbooks) {
    const name = runbook.file.replace(/\.md$/, '');
    if (!names.has(name)) problems.push(`runbooks/${runbook.file} has no alert named ${name}`);
    if (runbook.title !== name) {
      problems.push(`runbooks/${runbook.file}: title "${runbook.title}" is not ${name}`);
    }
    for (const section of REQUIRED_SECTIONS) {
      if (!runbook.sections.get(section)?.trim()) {
        problems.push(`runbooks/${runbook.file}: section "${section}" missing or empty`);
      }
    }
  }
  return problems;
}

const raw = (file: string) => readFileSync(repoPath('runbooks', file), 'utf8');

describe('runbooks (happy path)', () => {
  const alerts = committedAlertRules();
  const runbooks = runbookFiles().map(readRunbook);
  const base = thresholds().links.runbookBaseUrl;

  it('every alert has a runbook named after it, every runbook an alert, every link its file', () => {
    expect(crossCheck(alerts, runbooks, base)).toEqual([]);
    expect(runbooks.length).toBe(alerts.length);
  });

  it('every Diagnosis gives commands to run: redis-cli (rcli/scli) or PromQL', () => {
    for (const runbook of runbooks) {
      const diagnosis = runbook.sections.get('Diagnosis') ?? '';
      const count = diagnosisCommands(runbook).length + codeBlocks(diagnosis, 'promql').length;
      expect(count, runbook.file).toBeGreaterThan(0);
    }
  });
});

describe('runbooks (unhappy path)', () => {
  const alerts = committedAlertRules();
  const runbooks = runbookFiles().map(readRunbook);
  const base = thresholds().links.runbookBaseUrl;
  const without = (file: string) => runbooks.filter((r) => r.file !== file);

  it('reports an alert whose runbook is missing', () => {
    expect(crossCheck(alerts, without('RedisEvictions.md'), base)).toContain(
      'RedisEvictions has no runbooks/RedisEvictions.md',
    );
  });

  it('reports a runbook without an alert and a runbook_url that points elsewhere', () => {
    const orphan = parseRunbook(
      'RedisGone.md',
      '# RedisGone\n\n## Meaning\nx\n## Impact\nx\n## Diagnosis\nx\n## Mitigation\nx\n',
    );
    const moved = alerts.map((a) =>
      a.alert === 'RedisDown'
        ? { ...a, annotations: { ...a.annotations, runbook_url: `${base}/redis-down.md` } }
        : a,
    );
    const problems = crossCheck(moved, [...runbooks, orphan], base);
    expect(problems).toContain('runbooks/RedisGone.md has no alert named RedisGone');
    expect(problems).toContain(
      `RedisDown: runbook_url ${base}/redis-down.md is not ${base}/RedisDown.md`,
    );
  });

  it('reports a runbook that lost a section or states the wrong severity', () => {
    const text = raw('RedisDown.md')
      .replace('## Mitigation', '## What to do')
      .replace('Severity: **critical**', 'Severity: **warning**');
    const problems = crossCheck(
      alerts,
      [...without('RedisDown.md'), parseRunbook('RedisDown.md', text)],
      base,
    );
    expect(problems).toContain('runbooks/RedisDown.md: section "Mitigation" missing or empty');
    expect(problems).toContain('runbooks/RedisDown.md does not state severity critical');
  });
});
