import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { portOf, sharedTopology } from '../support/shared-topology.js';
import { repoPath, runbookFiles } from './support/bundle.js';
import { codeBlocks, diagnosisCommands, readRunbook } from './support/runbooks.js';

/** The rcli()/scli() definitions exactly as runbooks/README.md gives them to the on-call. */
function helperFunctions(): string {
  const readme = readFileSync(repoPath('runbooks', 'README.md'), 'utf8');
  const lines = codeBlocks(readme, 'sh')
    .flatMap((b) => b.split('\n'))
    .filter((l) => /^(rcli|scli)\(\) \{/.test(l));
  expect(lines).toHaveLength(2);
  return lines.join('\n');
}

interface Outcome {
  readonly code: number;
  readonly output: string;
}

function bash(script: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['--norc', '--noprofile', '-c', script],
      { env, timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

// Error replies redis-cli prints for a command that does not work as written.
const BROKEN =
  /^(\(error\) )?(ERR|NOPERM|WRONGTYPE|NOAUTH|WRONGPASS)\b|Could not connect|AUTH failed|Unrecognized option|unknown subcommand/m;

describe('runbook Diagnosis commands against a real TLS Redis and Sentinel', () => {
  const topology = sharedTopology();
  let tlsDir: string;
  let env: NodeJS.ProcessEnv;
  const functions = helperFunctions();

  beforeAll(() => {
    requireBinary('redis-cli');
    const tls = topology.tls;
    const auth = topology.auth;
    if (!tls || !auth) throw new Error('the shared topology must run TLS with ACL users');
    // The README's layout: $TLS_DIR/ca.crt, client.crt, client.key.
    tlsDir = mkdtempSync(join(tmpdir(), 'redscope-runbook-tls-'));
    symlinkSync(tls.caFile, join(tlsDir, 'ca.crt'));
    symlinkSync(tls.certFile, join(tlsDir, 'client.crt'));
    symlinkSync(tls.keyFile, join(tlsDir, 'client.key'));
    env = {
      PATH: process.env.PATH,
      TLS_DIR: tlsDir,
      REDISCLI_AUTH: auth.password,
      HOST: topology.host,
      PORT: String(portOf(topology, 'master')),
      SENTINEL_HOST: topology.host,
      SENTINEL_PORT: String(portOf(topology, 'sentinel')),
    };
  });

  afterAll(() => rmSync(tlsDir, { recursive: true, force: true }));

  it('the README helpers reach the master as admin and the Sentinel', async () => {
    expect((await bash(`${functions}\nrcli ACL WHOAMI`, env)).output.trim()).toBe('admin');
    expect((await bash(`${functions}\nscli PING`, env)).output.trim()).toBe('PONG');
  });

  const commands = runbookFiles().flatMap((file) =>
    diagnosisCommands(readRunbook(file)).map((command) => [file, command] as const),
  );

  it('finds the commands to run', () => {
    expect(commands.length).toBeGreaterThan(50);
  });

  // Concurrent: each command is a TLS handshake plus a process start (~0.2 s).
  it.concurrent.each(commands)('%s: %s', async (_file, command) => {
    const outcome = await bash(`set -o pipefail\n${functions}\n${command}`, env);
    expect(outcome.output, command).not.toMatch(BROKEN);
    // Empty output is fine (an empty slow log); an error reply or exit code is not.
    expect(outcome.code, `${command}\n${outcome.output}`).toBe(0);
  });

  it('a misspelt command in a runbook would fail this test', async () => {
    const outcome = await bash(`${functions}\nrcli SENTINEL MASTERS`, env);
    expect(outcome.output).toMatch(BROKEN);
  });
});
