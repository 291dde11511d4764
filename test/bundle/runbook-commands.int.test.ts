import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { portOf, sharedTopology } from '../support/shared-topology.js';
import { runbookFiles } from './support/bundle.js';
import { readmeFunctions, readmeTlsDir, runBash } from './support/runbook-shell.js';
import { diagnosisCommands, readRunbook } from './support/runbooks.js';

// Error replies redis-cli prints for a command that does not work as written.
const BROKEN =
  /^(\(error\) )?(ERR|NOPERM|WRONGTYPE|NOAUTH|WRONGPASS)\b|Could not connect|AUTH failed|Unrecognized option|unknown subcommand/m;

describe('runbook Diagnosis commands against a real TLS Redis and Sentinel', () => {
  const topology = sharedTopology();
  let tlsDir: string;
  let env: NodeJS.ProcessEnv;
  const functions = readmeFunctions(['rcli', 'scli']);

  beforeAll(() => {
    requireBinary('redis-cli');
    const tls = topology.tls;
    const auth = topology.auth;
    if (!tls || !auth) throw new Error('the shared topology must run TLS with ACL users');
    tlsDir = readmeTlsDir(tls, 'redscope-runbook-tls-');
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
    expect((await runBash(`${functions}\nrcli ACL WHOAMI`, env)).output.trim()).toBe('admin');
    expect((await runBash(`${functions}\nscli PING`, env)).output.trim()).toBe('PONG');
  });

  const commands = runbookFiles().flatMap((file) =>
    diagnosisCommands(readRunbook(file)).map((command) => [file, command] as const),
  );

  it('finds the commands to run', () => {
    expect(commands.length).toBeGreaterThan(50);
  });

  // Concurrent: each command is a TLS handshake plus a process start (~0.2 s).
  it.concurrent.each(commands)('%s: %s', async (_file, command) => {
    const outcome = await runBash(`${functions}\n${command}`, env);
    expect(outcome.output, command).not.toMatch(BROKEN);
    // Empty output is fine (an empty slow log); an error reply or exit code is not.
    expect(outcome.code, `${command}\n${outcome.output}`).toBe(0);
  });

  it('a misspelt command in a runbook would fail this test', async () => {
    const outcome = await runBash(`${functions}\nrcli SENTINEL MASTERS`, env);
    expect(outcome.output).toMatch(BROKEN);
  });
});
