import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AlertmanagerError,
  AlertmanagerSilences,
  AlertmanagerUrlError,
  isSilenceId,
} from '../../cli/drills/alertmanager-silences.js';
import {
  formatDuration,
  formatMatcher,
  parseMatcher,
  parseMatchers,
  parseSilenceDuration,
  SilenceInputError,
} from '../../cli/drills/silence-input.js';
import { runCli } from './support/run-cli.js';

const run = (...args: string[]) => runCli(['maintenance', ...args]);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-maintenance-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
// main() reports process.exitCode: one run's code must not leak into the next test.
afterEach(() => {
  process.exitCode = undefined;
});

describe('maintenance input', () => {
  describe('happy', () => {
    it.each([
      ['90s', 90_000],
      ['30m', 1_800_000],
      ['1h', 3_600_000],
      ['1h30m', 5_400_000],
      ['2d12h', 216_000_000],
      ['1w', 604_800_000],
      ['7d', 604_800_000],
    ])('reads --for %s as %d ms', (text, ms) => {
      expect(parseSilenceDuration(text)).toBe(ms);
    });

    it.each([
      ['cluster=redscope', { name: 'cluster', value: 'redscope', isRegex: false, isEqual: true }],
      ['severity!=info', { name: 'severity', value: 'info', isRegex: false, isEqual: false }],
      ['alertname=~Redis.*', { name: 'alertname', value: 'Redis.*', isRegex: true, isEqual: true }],
      [
        'instance!~redis-[12]:.*',
        { name: 'instance', value: 'redis-[12]:.*', isRegex: true, isEqual: false },
      ],
      ['team="db ops"', { name: 'team', value: 'db ops', isRegex: false, isEqual: true }],
      ['note="say \\"hi\\""', { name: 'note', value: 'say "hi"', isRegex: false, isEqual: true }],
      [' env = prod ', { name: 'env', value: 'prod', isRegex: false, isEqual: true }],
      ['url=a=b', { name: 'url', value: 'a=b', isRegex: false, isEqual: true }],
    ])('reads the matcher %s as amtool does', (text, matcher) => {
      expect(parseMatcher(text)).toEqual(matcher);
    });

    it('writes each kind of matcher back in amtool syntax, quoted', () => {
      const texts = ['a=x', 'b!=y', 'c=~z.*', 'd!~w+', 'e="q \\"r\\""'];
      expect(parseMatchers(texts).map(formatMatcher)).toEqual([
        'a="x"',
        'b!="y"',
        'c=~"z.*"',
        'd!~"w+"',
        'e="q \\"r\\""',
      ]);
    });

    it('accepts negative and empty matchers next to one that needs a label', () => {
      expect(parseMatchers(['cluster=redscope', 'severity!=info', 'team='])).toHaveLength(3);
    });

    it('formats remaining time with its two largest units', () => {
      expect(formatDuration(5_400_000)).toBe('1h30m');
      expect(formatDuration(90_061_000)).toBe('1d1h');
      expect(formatDuration(59_400)).toBe('59s');
      expect(formatDuration(-5)).toBe('0s');
    });

    it('recognises Alertmanager silence ids (UUIDs) only', () => {
      expect(isSilenceId('d6899a31-a5c7-4418-b078-c3ce48f2a68a')).toBe(true);
      expect(isSilenceId('d6899a31')).toBe(false);
      expect(isSilenceId('../../api/v2/status')).toBe(false);
    });
  });

  describe('unhappy', () => {
    it.each([
      ['', /expected a duration such as 90s/],
      ['1x', /expected a duration such as 90s/],
      ['30m1h', /units w, d, h, m, s, largest first/],
      ['1.5h', /expected a duration/],
      ['-1h', /expected a duration/],
      ['0s', /more than 0s and at most 7d/],
      ['0h0m', /more than 0s and at most 7d/],
      ['7d1s', /more than 0s and at most 7d/],
      ['8d', /more than 0s and at most 7d/],
    ])('refuses --for %j', (text, message) => {
      expect(() => parseSilenceDuration(text)).toThrow(SilenceInputError);
      expect(() => parseSilenceDuration(text)).toThrow(message);
    });

    it.each([
      ['cluster', /expected name=value, name!=value, name=~regex or name!~regex/],
      ['=redscope', /label name "" is not valid/],
      ['1st=x', /label name "1st" is not valid/],
      ['clu-ster=x', /label name "clu-ster" is not valid/],
      ['a="open', /the quoted value is not closed/],
      ['a="bad \\q"', /bad escape/],
    ])('refuses the matcher %j naming it', (text, message) => {
      expect(() => parseMatcher(text)).toThrow(SilenceInputError);
      expect(() => parseMatcher(text)).toThrow(message);
      expect(() => parseMatcher(text)).toThrow(`--matcher ${JSON.stringify(text)}`);
    });

    it('refuses no matcher, and matchers that alerts without the label satisfy: both mute everything', () => {
      expect(() => parseMatchers([])).toThrow(/at least one .* would mute every alert/);
      expect(() => parseMatchers(['severity!=info'])).toThrow(/would mute every alert/);
      expect(() => parseMatchers(['team=', 'env!=prod'])).toThrow(/would mute every alert/);
    });
  });
});

/** A local HTTP server that answers with `handler`, or never when it returns undefined. */
async function fakeAlertmanager(
  handler: (
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
  ) => [number, string] | undefined,
): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const answer = handler(request.method ?? '', request.url ?? '', request.headers);
    if (!answer) return; // hang
    response.writeHead(answer[0], { 'content-type': 'application/json' }).end(answer[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function closed(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('the Alertmanager silences client', () => {
  describe('happy', () => {
    it('sends URL credentials as basic auth and never shows them', async () => {
      const seen: IncomingHttpHeaders[] = [];
      const { url, server } = await fakeAlertmanager((_method, path, headers) => {
        seen.push(headers);
        return path === '/prefix/api/v2/silences' ? [200, '[]'] : [404, '"no"'];
      });
      try {
        const api = new AlertmanagerSilences(
          `${url.replace('http://', 'http://ops:s3cret@')}/prefix/`,
        );
        expect(api.url).toBe(`${url}/prefix`);
        expect(await api.list()).toEqual([]);
        expect(seen[0]?.authorization).toBe(
          `Basic ${Buffer.from('ops:s3cret').toString('base64')}`,
        );
      } finally {
        await closed(server);
      }
    });
  });

  describe('unhappy', () => {
    it.each([
      ['alertmanager:9093', /scheme "alertmanager" is not allowed|not a URL/],
      ['ftp://am:21', /scheme "ftp" is not allowed/],
      ['http://am:9093/?x=1', /query string/],
      ['nonsense', /not a URL/],
    ])('refuses the base URL %j', (text, message) => {
      expect(() => new AlertmanagerSilences(text)).toThrow(AlertmanagerUrlError);
      expect(() => new AlertmanagerSilences(text)).toThrow(message);
    });

    it('gives up on a hung Alertmanager after its timeout, naming the URL', async () => {
      const { url, server } = await fakeAlertmanager(() => undefined);
      try {
        const api = new AlertmanagerSilences(url, 300);
        const started = Date.now();
        await expect(api.list()).rejects.toThrow(
          `Alertmanager at ${url} did not answer within 0.3 s`,
        );
        expect(Date.now() - started).toBeLessThan(2000);
      } finally {
        await closed(server);
      }
    });

    it('reports the status and the first line of the body of a refusal, and garbage as garbage', async () => {
      const { url, server } = await fakeAlertmanager((method) =>
        method === 'POST' ? [400, '"silence invalid: bad\\nsecond line"'] : [200, '<html>'],
      );
      try {
        const api = new AlertmanagerSilences(url);
        const silence = {
          matchers: [{ name: 'a', value: 'b', isRegex: false, isEqual: true }],
          startsAt: new Date().toISOString(),
          endsAt: new Date().toISOString(),
          createdBy: 'test',
          comment: 'test',
        };
        await expect(api.create(silence)).rejects.toThrow(
          `Alertmanager at ${url} refused POST /api/v2/silences: 400 Bad Request: silence invalid: bad`,
        );
        await expect(api.list()).rejects.toThrow(AlertmanagerError);
        await expect(api.list()).rejects.toThrow('something that is not JSON: <html>');
      } finally {
        await closed(server);
      }
    });
  });
});

describe('redscope maintenance on the command line', () => {
  describe('happy', () => {
    it('lists its subcommands and says silences expire by themselves', async () => {
      const { code, out } = await run('--help');
      expect(code).toBe(0);
      expect(out).toMatch(/start \[options\]/);
      expect(out).toMatch(/list \[options\]/);
      expect(out).toMatch(/stop \[options\] \[ID\]/);
      expect(out).toContain('expire by themselves');
      const start = await run('start', '--help');
      for (const flag of ['--for', '--matcher', '--comment', '--alertmanager-url', '--state-dir']) {
        expect(start.out).toContain(flag);
      }
    });
  });

  describe('unhappy', () => {
    // Nothing listens on a URL with port 9: every case must fail before a request.
    const url = ['--alertmanager-url', 'http://127.0.0.1:9'];
    it.each<[string[], string]>([
      [['start', '--matcher', 'a=b', ...url], 'maintenance start: give --for DURATION'],
      [['start', '--for', '1x', '--matcher', 'a=b', ...url], '--for "1x": expected a duration'],
      [['start', '--for', '8d', '--matcher', 'a=b', ...url], '--for "8d": a silence must last'],
      [['start', '--for', '1h', ...url], '--matcher: give at least one'],
      [['start', '--for', '1h', '--matcher', 'a', ...url], '--matcher "a": expected name=value'],
      [['stop', ...url], 'maintenance stop: give a silence ID'],
      [
        ['stop', 'd6899a31-a5c7-4418-b078-c3ce48f2a68a', '--all', ...url],
        'maintenance stop: give either an ID or --all',
      ],
      [['stop', 'nope', ...url], 'maintenance stop "nope": not a silence id'],
      [
        ['list', '--alertmanager-url', 'ftp://x'],
        '--alertmanager-url "ftp://x": scheme "ftp" is not allowed',
      ],
    ])('exits 2 with a clear message for %j', async (args, message) => {
      const { code, err } = await run(...args);
      expect(err).toContain(`redscope: ${message}`);
      expect(code).toBe(2);
    });

    it('exits 2 without a subcommand, or with an unknown one', async () => {
      expect(await run()).toMatchObject({
        code: 2,
        err: expect.stringContaining('give a command: start, list or stop'),
      });
      expect(await run('pause')).toMatchObject({
        code: 2,
        err: expect.stringContaining('unknown command "pause"'),
      });
    });

    it('exits 2 naming an unknown flag and the subcommand usage', async () => {
      const { code, err } = await run('list', '--bogus');
      expect(code).toBe(2);
      expect(err).toContain("unknown option '--bogus'");
      expect(err).toContain('Usage: redscope maintenance list [options]');
    });

    it('exits 2 naming --alertmanager-url when no redscope up runs in --state-dir', async () => {
      const { code, err } = await run('list', '--state-dir', dir);
      expect(code).toBe(2);
      expect(err).toContain(`no --alertmanager-url and no running \`redscope up\` in ${dir}`);
    });

    it('never prints the password of a URL it refuses', async () => {
      const { code, err } = await run('list', '--alertmanager-url', 'ftp://ops:s3cret@am:21');
      expect(code).toBe(2);
      expect(err).not.toContain('s3cret');
    });
  });
});
