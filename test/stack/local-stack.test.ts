import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localizeAddresses, shellLine } from '../../stack/local-stack.js';
import { packageRoot } from '../../stack/repo-paths.js';

describe('localizeAddresses', () => {
  it('rewrites compose addresses to loopback ports and leaves everything else alone', () => {
    const text =
      'targets: ["exporter:9121", "rediss://redis-1:6379"]\nreplacement: exporter:9121\n';
    expect(localizeAddresses(text, { 'exporter:9121': 4000, 'redis-1:6379': 4001 })).toBe(
      'targets: ["127.0.0.1:4000", "rediss://127.0.0.1:4001"]\nreplacement: 127.0.0.1:4000\n',
    );
  });

  it('does not touch a longer host name that merely ends like a compose one', () => {
    expect(localizeAddresses('my-exporter:9121', { 'exporter:9121': 4000 })).toBe(
      'my-exporter:9121',
    );
  });

  it('fails naming a compose address the local stack does not run', () => {
    expect(() => localizeAddresses('targets: ["redis-9:6379"]', {})).toThrow(/redis-9:6379/);
  });

  it('covers every address the shipped prometheus.yml uses', () => {
    const shipped = readFileSync(join(packageRoot(), 'prometheus', 'prometheus.yml'), 'utf8');
    const addresses: Record<string, number> = {
      'exporter:9121': 1,
      'alertmanager:9093': 2,
      'demo:3000': 3,
    };
    for (let i = 0; i < 3; i++) {
      addresses[`redis-${i}:6379`] = 10 + i;
      addresses[`sentinel-${i}:26379`] = 20 + i;
    }
    expect(() => localizeAddresses(shipped, addresses)).not.toThrow();
  });
});

describe('shellLine', () => {
  it('writes the environment first and leaves plain words and paths unquoted', () => {
    expect(
      shellLine({
        what: 'warm',
        env: { REDSCOPE_DEMO_DATABASE: '/tmp/redscope-up-x/demo-database' },
        argv: ['/usr/bin/node', 'bin/redscope.js', 'warm', '--namespace', 'demo:session:'],
      }),
    ).toBe(
      'REDSCOPE_DEMO_DATABASE=/tmp/redscope-up-x/demo-database /usr/bin/node bin/redscope.js warm --namespace demo:session:',
    );
  });

  it('quotes a word a shell would split or expand, quotes inside it included', () => {
    expect(shellLine({ what: 'x', env: {}, argv: ['a b', "it's", '$HOME', ''] })).toBe(
      `'a b' 'it'\\''s' '$HOME' ''`,
    );
  });
});
