import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';

const script = join(import.meta.dirname, '../../scripts/setup-system.sh');

const which = (tool: string): string =>
  spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();

/** A PATH holding only the few tools the script itself uses, so every server binary looks missing. */
const barePath = mkdtempSync(join(tmpdir(), 'redscope-bare-path-'));
chmodSync(barePath, 0o755);
for (const tool of ['id', 'apt-get']) {
  symlinkSync(which(tool), join(barePath, tool));
}
afterAll(() => rmSync(barePath, { recursive: true, force: true }));

describe('scripts/setup-system.sh', () => {
  it('does nothing and says nothing when every binary is present', () => {
    requireBinary('redis-server');
    const result = spawnSync('bash', [script], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
  });

  it('refuses to install without root and prints the exact install command', () => {
    // runuser drops to an unprivileged user; the bare PATH makes every binary missing.
    // util-linux puts runuser in /usr/sbin, which a non-login PATH may lack.
    const runuser = existsSync('/usr/sbin/runuser') ? '/usr/sbin/runuser' : which('runuser');
    const result = spawnSync(runuser, ['-u', 'nobody', '--', '/bin/bash', script], {
      encoding: 'utf8',
      env: { PATH: barePath },
    });
    expect(result.status, JSON.stringify(result)).toBe(1);
    expect(result.stderr).toContain('not running as root');
    expect(result.stderr).toMatch(
      /apt-get install -y --no-install-recommends .*openssl .*prometheus .*prometheus-alertmanager .*prometheus-redis-exporter .*redis-sentinel .*redis-server .*redis-tools/,
    );
  });
});
