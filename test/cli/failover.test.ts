import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failoverRefusal } from '../../cli/drills/failover.js';
import {
  assertLoopbackHost,
  assertRedisServerProcess,
  isLoopbackAddress,
  NotLocalError,
  type ProcFs,
} from '../../cli/drills/local-redis-process.js';
import { writeStackState } from '../../stack/stack-state.js';
import { fakeUpPid } from './support/fake-up.js';
import { runCli } from './support/run-cli.js';

const run = (...args: string[]) => runCli(['failover', ...args]);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-failover-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
// main() reports process.exitCode: one run's code must not leak into the next test.
afterEach(() => {
  process.exitCode = undefined;
});

/** A /proc with one process: `comm`, and fds pointing at `sockets`; port 6379 listens on inode 4242. */
function fakeProc(comm: string, sockets: string[], fdError?: string): ProcFs {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0',
    '   1: 0100007F:18EB 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 5151 1 0 20 4 30 10 -1',
  ].join('\n');
  return {
    async readFile(path) {
      if (path === '/proc/77/comm') return `${comm}\n`;
      if (path === '/proc/net/tcp') return tcp;
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    },
    async readdir() {
      if (fdError) throw Object.assign(new Error('denied'), { code: fdError });
      return sockets.map((_, i) => String(i));
    },
    async readlink(path) {
      return sockets[Number(path.split('/').at(-1))] ?? '';
    },
  };
}

describe('the --crash guard', () => {
  describe('happy', () => {
    it.each(['127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])(
      'counts %s as loopback',
      (ip) => {
        expect(isLoopbackAddress(ip)).toBe(true);
      },
    );

    it('accepts a loopback address, and a name that resolves to loopback only', async () => {
      await assertLoopbackHost('127.0.0.1');
      await assertLoopbackHost('::1');
      await assertLoopbackHost('redis-0.local', async () => ['::1', '127.0.0.1']);
    });

    it('accepts a redis-server pid that holds the listening socket of the port', async () => {
      await assertRedisServerProcess(
        77,
        6379,
        fakeProc('redis-server', ['/dev/null', 'socket:[4242]']),
      );
    });
  });

  describe('unhappy', () => {
    it.each(['10.0.0.5', '192.168.1.2', '::', 'fd00::1', '::2', 'localhost', '128.0.0.1'])(
      'does not count %s as a loopback address',
      (ip) => {
        expect(isLoopbackAddress(ip)).toBe(false);
      },
    );

    it('refuses a master on another address: kill -9 is for a local process', async () => {
      await expect(assertLoopbackHost('10.0.0.5')).rejects.toThrow(NotLocalError);
      await expect(assertLoopbackHost('10.0.0.5')).rejects.toThrow(
        'the master is at 10.0.0.5, not a loopback address of this machine',
      );
      await expect(assertLoopbackHost('[fd00::5]')).rejects.toThrow(/not a loopback address/);
    });

    it('refuses a name that resolves anywhere but loopback, or not at all', async () => {
      await expect(
        assertLoopbackHost('redis.internal', async () => ['127.0.0.1', '10.0.0.7']),
      ).rejects.toThrow(
        "the master's name redis.internal resolves to 10.0.0.7, not a loopback address",
      );
      await expect(
        assertLoopbackHost('gone.invalid', async () => {
          throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
        }),
      ).rejects.toThrow('does not resolve here (ENOTFOUND)');
    });

    it("refuses a pid that is not redis-server (a container's pid, one reused since)", async () => {
      await expect(
        assertRedisServerProcess(77, 6379, fakeProc('bash', ['socket:[4242]'])),
      ).rejects.toThrow('pid 77 here is "bash", not redis-server');
    });

    it("refuses a redis-server that does not hold the listening socket (another namespace's)", async () => {
      // 5151 is a connection to the port, not the listening socket.
      await expect(
        assertRedisServerProcess(77, 6379, fakeProc('redis-server', ['socket:[5151]'])),
      ).rejects.toThrow('redis-server pid 77 does not listen on port 6379 here');
      await expect(
        assertRedisServerProcess(77, 6380, fakeProc('redis-server', ['socket:[4242]'])),
      ).rejects.toThrow(/does not listen on port 6380/);
    });

    it('refuses a process of another user, and pids that are no processes to kill', async () => {
      await expect(
        assertRedisServerProcess(77, 6379, fakeProc('redis-server', [], 'EACCES')),
      ).rejects.toThrow('cannot list /proc/77/fd (EACCES): the master runs as another user');
      await expect(
        assertRedisServerProcess(78, 6379, fakeProc('redis-server', [])),
      ).rejects.toThrow('cannot read /proc/78/comm (ENOENT)');
      for (const pid of [0, 1, -5, Number.NaN]) {
        await expect(assertRedisServerProcess(pid, 6379)).rejects.toThrow(/not a process to kill/);
      }
    });

    it('refuses this very process on the real /proc: it is node, not redis-server', async () => {
      await expect(assertRedisServerProcess(process.pid, 6379)).rejects.toThrow(
        `pid ${process.pid} here is "node"`,
      );
    });
  });
});

describe("Sentinel's refusals of a failover", () => {
  describe('unhappy', () => {
    it('says in words what NOGOODSLAVE and INPROG mean, and passes anything else on', () => {
      const where = 'Sentinel 127.0.0.1:26379';
      expect(failoverRefusal(where, 'redscope', 'NOGOODSLAVE No suitable replica to promote')).toBe(
        'Sentinel 127.0.0.1:26379 refused the failover of "redscope": no replica can be promoted (NOGOODSLAVE: none is connected and in sync, or every one has replica-priority 0)',
      );
      expect(failoverRefusal(where, 'redscope', 'INPROG Failover already in progress')).toContain(
        'a failover is already in progress (INPROG); wait for it to end and try again',
      );
      expect(failoverRefusal(where, 'x', 'ERR No such master with that name')).toBe(
        'Sentinel 127.0.0.1:26379 refused SENTINEL FAILOVER x: ERR No such master with that name',
      );
    });
  });
});

describe('redscope failover on the command line', () => {
  const sentinels = ['--sentinels', '127.0.0.1:9', '--master-name', 'redscope'];

  describe('happy', () => {
    it('lists the drill flags in --help', async () => {
      const { code, out } = await run('--help');
      expect(code).toBe(0);
      for (const flag of [
        '--sentinels',
        '--master-name',
        '--tls-ca',
        '--tls-cert',
        '--tls-key',
        '--sentinel-password-file',
        '--username',
        '--password-file',
        '--crash',
        '--timeout',
        '--no-wait',
        '--state-dir',
      ]) {
        expect(out).toContain(flag);
      }
    });
  });

  describe('unhappy', () => {
    // Port 9 answers nothing: every case must fail before connecting.
    it.each<[string[], string]>([
      [[...sentinels, '--timeout', '0'], '--timeout "0": expected a whole number from 1 to 3600'],
      [
        [...sentinels, '--timeout', 'soon'],
        '--timeout "soon": expected a whole number from 1 to 3600',
      ],
      [
        [...sentinels, '--timeout', '3601'],
        '--timeout "3601": expected a whole number from 1 to 3600',
      ],
      [[...sentinels, '--timeout', '1.5'], '--timeout "1.5": expected a whole number'],
      [['--sentinels', '127.0.0.1:9'], '--master-name: give the master group to fail over'],
      [['--sentinels', ' , ', '--master-name', 'm'], '--sentinels: give at least one HOST:PORT'],
      [
        ['--sentinels', 'http://x:1', '--master-name', 'm'],
        '--sentinels "http://x:1": scheme "http" is not allowed',
      ],
      [[...sentinels, '--tls-cert', '/nonexistent.crt'], '--tls-cert and --tls-key go together'],
      [
        [...sentinels, '--tls-ca', '/nonexistent/ca.crt'],
        '--tls-ca /nonexistent/ca.crt: cannot read it (ENOENT)',
      ],
      [
        [...sentinels, '--password-file', '/nonexistent/pw'],
        '--password-file /nonexistent/pw: cannot read it (ENOENT)',
      ],
      [
        [...sentinels, '--sentinel-password-file', '/nonexistent/pw'],
        '--sentinel-password-file /nonexistent/pw: cannot read it (ENOENT)',
      ],
    ])('exits 2 with a clear message for %j', async (args, message) => {
      const { code, err } = await run(...args);
      expect(err).toContain(`redscope: ${message}`);
      expect(code).toBe(2);
    });

    it('exits 2 naming an unknown option', async () => {
      const { code, err } = await run(...sentinels, '--bogus');
      expect(code).toBe(2);
      expect(err).toContain("unknown option '--bogus'");
      expect(err).toContain('Usage: redscope failover [options]');
    });

    it('exits 2 naming --sentinels when neither the flag nor a running redscope up gives them', async () => {
      const { code, err } = await run('--state-dir', dir);
      expect(code).toBe(2);
      expect(err).toContain(`no --sentinels and no running \`redscope up\` in ${dir}`);
    });

    it('exits 2 on a stack running a Redis Cluster, or given --cluster-nodes: not supported yet', async () => {
      const stateDir = join(dir, 'cluster');
      mkdirSync(stateDir);
      const none = 'http://127.0.0.1:9';
      writeStackState(stateDir, {
        pid: fakeUpPid(),
        startedAt: new Date().toISOString(),
        mode: 'cluster',
        urls: {
          prometheus: none,
          alertmanager: none,
          exporter: none,
          demo: none,
          receivers: none,
          traces: none,
        },
        clusterNodes: ['127.0.0.1:7000'],
        admin: { username: 'admin', passwordFile: join(stateDir, 'pw') },
        logDir: stateDir,
      });
      const { code, err } = await run('--state-dir', stateDir, '--crash');
      expect(code).toBe(2);
      expect(err).toContain('redscope: failover on a cluster: not supported yet');
      const flagged = await run('--cluster-nodes', '127.0.0.1:7000', '--crash');
      expect(flagged.code).toBe(2);
      expect(flagged.err).toContain(
        'redscope: failover on a cluster: not supported yet (--cluster-nodes)',
      );
    });

    it('never prints the password of a Sentinel URL it refuses', async () => {
      const { code, err } = await run('--sentinels', 'redis://u:s3cret@h:1', '--master-name', 'm');
      expect(code).toBe(2);
      expect(err).toContain('--sentinels');
      expect(err).not.toContain('s3cret');
    });
  });
});
