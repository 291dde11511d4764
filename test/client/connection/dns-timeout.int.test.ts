import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NameNamespace, UNANSWERED_DNS_SERVER } from '../../../stack/name-namespace.js';
import { packageRoot } from '../../../stack/repo-paths.js';

const SCENARIO = join(import.meta.dirname, 'support', 'dns-timeout-scenario.ts');
const RESULT_PREFIX = 'DNS_TIMEOUT_SCENARIO ';

interface Attempt {
  reason: string;
  message: string;
  ms: number;
  logged: string[];
}

/**
 * A DNS server that does not answer (down, firewalled, dropping packets), as a
 * client on a private network meets it: a network namespace whose resolv.conf
 * names a server its packets never reach (`options timeout:2 attempts:1`, so a
 * lookup gives up after 2 s with EAI_AGAIN). The scenario runs inside it
 * (a vitest worker cannot enter a namespace) and prints what ready() said.
 */
describe('a DNS server that does not answer', () => {
  let namespace: NameNamespace | undefined;
  let observed: Record<string, Attempt> = {};

  beforeAll(async () => {
    namespace = NameNamespace.create([], '::1', {
      unansweredDns: { timeoutSeconds: 2, attempts: 1 },
    });
    const { command, args } = namespace.wrap(process.execPath, ['--import', 'tsx', SCENARIO]);
    const child = spawn(command, args, { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
    if (code !== 0 || line === undefined) {
      throw new Error(`the scenario failed (exit ${code}):\n${stderr.slice(-6000)}`);
    }
    observed = JSON.parse(line.slice(RESULT_PREFIX.length)) as Record<string, Attempt>;
    console.info(`[dns-timeout] ${JSON.stringify(observed)}`);
  }, 60_000);

  afterAll(() => namespace?.close());

  it(`is reached: names outside the hosts file go to ${UNANSWERED_DNS_SERVER}, which never answers`, () => {
    expect(observed.eaiAgain?.message).toContain('getaddrinfo EAI_AGAIN redis-1.railway.internal');
  });

  it('a URL whose name it should resolve: dns, naming the name and the DNS server, not a TLS timeout', () => {
    const url = observed.url as Attempt;
    expect(url.reason).toBe('dns');
    expect(url.message).toBe(
      'Redis redis-1.railway.internal:6379: name redis-1.railway.internal did not resolve within 1000 ms (DNS server not answering); check the DNS servers this process uses (/etc/resolv.conf) and that they are reachable',
    );
    expect(url.message).not.toMatch(/ETIMEDOUT|TLS/);
    // Three tries of one connect timeout each, before ready()'s 10 s.
    expect(url.ms).toBeGreaterThanOrEqual(3000);
    expect(url.ms).toBeLessThan(6000);
    expect(url.logged).toContain(
      'name redis-1.railway.internal did not resolve within 1000 ms (DNS server not answering)',
    );
  });

  it('Sentinels whose names it should resolve: dns, naming a Sentinel, after one connect timeout', () => {
    const sentinels = observed.sentinels as Attempt;
    expect(sentinels.reason).toBe('dns');
    expect(sentinels.message).toMatch(
      /^Sentinel (sentinel-[12]\.railway\.internal):26379: name \1 did not resolve within 1000 ms \(DNS server not answering\); check the DNS servers/,
    );
    expect(sentinels.ms).toBeLessThan(3000);
    for (const name of ['sentinel-1.railway.internal', 'sentinel-2.railway.internal']) {
      expect(sentinels.logged.some((m) => m.startsWith(`name ${name} did not resolve`))).toBe(true);
    }
  });

  it("the resolver's own EAI_AGAIN, before a connect timeout: dns at ready()'s timeout, naming the name", () => {
    const eaiAgain = observed.eaiAgain as Attempt;
    expect(eaiAgain.reason).toBe('dns');
    expect(eaiAgain.message).toBe(
      'Redis redis-1.railway.internal:6379: name redis-1.railway.internal did not resolve: the DNS server did not answer (getaddrinfo EAI_AGAIN redis-1.railway.internal); check the DNS servers this process uses (/etc/resolv.conf) and that they are reachable',
    );
    expect(eaiAgain.ms).toBeLessThan(5000);
  });
});
