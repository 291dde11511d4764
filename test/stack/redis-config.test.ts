import { describe, expect, it } from 'vitest';
import { parseRedisConfig, renderRedisConfig } from '../../stack/redis-config.js';

const template = `# a comment that must survive
port 6379
tls-port 6379
appendonly yes
sentinel monitor redscope redis-master 6379 2
sentinel down-after-milliseconds redscope 1000
`;

describe('renderRedisConfig', () => {
  it('replaces a directive in place and keeps comments and untouched directives', () => {
    const out = renderRedisConfig(template, { port: '7000' });
    expect(out).toContain('# a comment that must survive');
    expect(out).toContain('port 7000\ntls-port 6379');
    expect(out).toContain('appendonly yes');
  });

  it('treats "sentinel <sub>" as one directive so other sentinel lines stay', () => {
    const out = renderRedisConfig(template, { 'sentinel monitor': 'redscope 127.0.0.1 7001 2' });
    expect(out).toContain('sentinel monitor redscope 127.0.0.1 7001 2');
    expect(out).toContain('sentinel down-after-milliseconds redscope 1000');
    expect(out).not.toContain('redis-master');
  });

  it('removes directives overridden with null', () => {
    const out = renderRedisConfig(template, { 'tls-port': null });
    expect(parseRedisConfig(out).map((d) => d.key)).not.toContain('tls-port');
  });

  it('appends directives the template lacks under a marker comment', () => {
    const out = renderRedisConfig(template, { replicaof: '127.0.0.1 7000' });
    expect(out.trimEnd().split('\n').slice(-2)).toEqual([
      '# set by the redscope launcher for this run',
      'replicaof 127.0.0.1 7000',
    ]);
  });
});

describe('parseRedisConfig', () => {
  it('reads keys case-insensitively and skips comments and blank lines', () => {
    expect(parseRedisConfig('# x\n\nPORT 1\nsentinel MONITOR m h 1 2\n')).toEqual([
      { key: 'port', args: '1' },
      { key: 'sentinel monitor', args: 'm h 1 2' },
    ]);
  });
});
