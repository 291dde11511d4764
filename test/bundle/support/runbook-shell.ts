import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath, runCommand } from './bundle.js';
import { codeBlocks } from './runbooks.js';

/**
 * Running runbook commands as the on-call engineer pastes them: the README's
 * shell functions, its $TLS_DIR layout, and bash.
 */

export interface Outcome {
  readonly code: number;
  readonly output: string;
}

/**
 * Runs `script` in a bash without rc files, with pipefail: a redis-cli that
 * fails before `| awk` fails the line instead of printing nothing.
 */
export async function runBash(script: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
  const { code, stdout, stderr } = await runCommand(
    'bash',
    ['--norc', '--noprofile', '-c', `set -o pipefail\n${script}`],
    { env, timeoutMs: 15_000 },
  );
  return { code, output: stdout + stderr };
}

/** The definitions of the shell functions `names` (rcli, scli, ccli) exactly as runbooks/README.md gives them. */
export function readmeFunctions(names: readonly string[]): string {
  const readme = readFileSync(repoPath('runbooks', 'README.md'), 'utf8');
  const lines = codeBlocks(readme, 'sh')
    .flatMap((b) => b.split('\n'))
    .filter((l) => names.some((name) => l.startsWith(`${name}() {`)));
  if (lines.length !== names.length) {
    throw new Error(`runbooks/README.md should define ${names.join(', ')}() once each`);
  }
  return lines.join('\n');
}

/** A scratch $TLS_DIR as the README lays it out (ca.crt, client.crt, client.key), linking to `tls`. */
export function readmeTlsDir(
  tls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string },
  prefix: string,
): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  symlinkSync(tls.caFile, join(dir, 'ca.crt'));
  symlinkSync(tls.certFile, join(dir, 'client.crt'));
  symlinkSync(tls.keyFile, join(dir, 'client.key'));
  return dir;
}
