import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';

const script = join(import.meta.dirname, '../../scripts/setup-system.sh');

const which = (tool: string): string =>
  spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();

/** True when any user may walk down to `dir`: every folder on the way is other-searchable. */
function othersCanReach(dir: string): boolean {
  for (let d = realpathSync(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

/**
 * A fresh folder the unprivileged user can read. The clone itself may sit where that user
 * cannot (under /root, in a 0700 temp folder): bash then fails with 126 before the script
 * runs, so what runs as that user is a copy from here.
 */
function folderOthersCanRead(prefix: string): string {
  const base = [tmpdir(), '/tmp'].find((d) => existsSync(d) && othersCanReach(d));
  if (base === undefined) {
    throw new Error(
      `neither ${tmpdir()} nor /tmp can be reached by other users: set TMPDIR to a folder that can`,
    );
  }
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** A PATH holding only the few tools the script itself uses, so every server binary looks missing. */
const barePath = folderOthersCanRead('redscope-bare-path-');
for (const tool of ['id', 'apt-get']) {
  symlinkSync(which(tool), join(barePath, tool));
}
const scriptDir = folderOthersCanRead('redscope-setup-script-');
const scriptCopy = join(scriptDir, 'setup-system.sh');
copyFileSync(script, scriptCopy);
chmodSync(scriptCopy, 0o644);
afterAll(() => {
  rmSync(barePath, { recursive: true, force: true });
  rmSync(scriptDir, { recursive: true, force: true });
});

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
    const result = spawnSync(runuser, ['-u', 'nobody', '--', '/bin/bash', scriptCopy], {
      encoding: 'utf8',
      env: { PATH: barePath },
      // The clone may be a working directory nobody cannot enter.
      cwd: scriptDir,
    });
    expect(result.status, JSON.stringify(result)).toBe(1);
    expect(result.stderr).toContain('not running as root');
    expect(result.stderr).toMatch(
      /apt-get install -y --no-install-recommends .*nftables .*openssl .*prometheus .*prometheus-alertmanager .*prometheus-redis-exporter .*redis-sentinel .*redis-server .*redis-tools/,
    );
  });
});
