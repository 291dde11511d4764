import { describe, expect, it } from 'vitest';
import { spliceSection } from '../../bench/run.js';

describe('spliceSection', () => {
  it('appends a section that is not there yet', () => {
    expect(spliceSection('# Benchmarks\n', 'client', 'numbers')).toBe(
      '# Benchmarks\n\n<!-- bench:client:start -->\nnumbers\n<!-- bench:client:end -->\n',
    );
  });

  it('replaces only the named section and keeps the others', () => {
    const before = spliceSection(spliceSection('# B\n', 'a', 'old a'), 'b', 'old b');
    const after = spliceSection(before, 'a', 'new a');
    expect(after).toContain('new a');
    expect(after).not.toContain('old a');
    expect(after).toContain('old b');
  });
});
