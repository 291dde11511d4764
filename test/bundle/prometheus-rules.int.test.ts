import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoPath, run } from './support/bundle.js';

describe('promtool on the shipped rules (happy path)', () => {
  it('promtool check rules is clean for every rule file', async () => {
    const result = await run('promtool', [
      'check',
      'rules',
      'prometheus/rules/redscope-recording.yml',
      'prometheus/rules/redscope-alerts.yml',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/WARNING|FAILED/);
  });

  it('promtool check config accepts prometheus.yml and resolves its rule_files', async () => {
    const result = await run('promtool', ['check', 'config', 'prometheus/prometheus.yml']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toContain('SUCCESS: 2 rule files found');
    expect(output).toMatch(/redscope-alerts\.yml\s+SUCCESS: \d+ rules found/);
  });

  it('promtool test rules passes every case under prometheus/tests', async () => {
    const files = readdirSync(repoPath('prometheus', 'tests')).filter((f) =>
      f.endsWith('.test.yml'),
    );
    expect(files.length).toBeGreaterThanOrEqual(6);
    const result = await run('promtool', [
      'test',
      'rules',
      ...files.map((f) => `prometheus/tests/${f}`),
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect((result.stdout.match(/SUCCESS/g) ?? []).length).toBe(files.length);
  });
});

describe('promtool on the shipped rules (unhappy path)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a weakened threshold in a rule file makes the promtool tests fail', async () => {
    // A copy of prometheus/ whose memory alert fires at 99% instead of 90%.
    cpSync(repoPath('prometheus'), join(dir, 'prometheus'), { recursive: true });
    const alerts = join(dir, 'prometheus', 'rules', 'redscope-alerts.yml');
    const text = readFileSync(alerts, 'utf8');
    expect(text).toContain('instance:redis_memory_used_per_max:ratio > 0.9');
    writeFileSync(
      alerts,
      text.replace(
        'instance:redis_memory_used_per_max:ratio > 0.9',
        'instance:redis_memory_used_per_max:ratio > 0.99',
      ),
    );
    const result = await run('promtool', ['test', 'rules', 'prometheus/tests/resources.test.yml'], {
      cwd: dir,
    });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('RedisMemoryNearMax');
  });

  it('promtool check config fails when a rule file does not parse', async () => {
    const broken = join(dir, 'broken');
    cpSync(repoPath('prometheus'), broken, { recursive: true });
    writeFileSync(
      join(broken, 'rules', 'broken.yml'),
      'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: rate(redis_up[5m]\n',
    );
    const result = await run('promtool', ['check', 'config', join(broken, 'prometheus.yml')]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/broken\.yml/);
  });
});
