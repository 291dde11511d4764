import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';

/** Where `ip netns exec` looks for per-namespace files that it bind-mounts over /etc. */
const NETNS_ETC = '/etc/netns';

/** Where `ip netns` keeps its namespaces (one file per namespace, made when it was added). */
const NETNS_RUN = '/run/netns';

/** What every namespace of this class is called: `redscope-` and 8 hex digits. */
const OWN_NAME = /^redscope-[0-9a-f]{8}$/;

/**
 * A namespace of ours older than this with no process inside was left by a run
 * that was killed (SIGKILL skips the exit hook). Younger ones may belong to a
 * run that is setting up right now, before it starts its first process.
 */
const STALE_AFTER_MS = 10 * 60_000;

/** The machine's nsswitch.conf with its `hosts:` line replaced by `hosts`. */
function nsswitchWithHosts(hosts: string): string {
  let text = '';
  try {
    text = readFileSync('/etc/nsswitch.conf', 'utf8');
  } catch {
    // none: glibc's defaults, apart from the hosts line below
  }
  const kept = text.split('\n').filter((line) => !/^\s*hosts\s*:/.test(line));
  return `${[...kept, `hosts: ${hosts}`].join('\n').trim()}\n`;
}

/**
 * A DNS server that never answers, for names outside the hosts file: the
 * namespace's resolv.conf names `UNANSWERED_DNS_SERVER`, a permanent neighbour
 * entry sends its packets out of a veth interface with a MAC address nobody
 * has, and the peer interface drops them. The resolver waits out
 * `timeoutSeconds` × `attempts` and fails with EAI_AGAIN, as with a DNS server
 * that is down or firewalled.
 */
interface UnansweredDns {
  readonly timeoutSeconds: number;
  readonly attempts: number;
}

export const UNANSWERED_DNS_SERVER = '10.213.0.53';

/** Namespaces still in place, removed at exit if their owner did not (a crashed test run). */
const open = new Map<string, NameNamespace>();
process.once('exit', () => {
  for (const namespace of open.values()) namespace.close();
});

/**
 * DNS names that resolve only inside a network namespace, without touching
 * the machine's resolver: `create(names)` makes a namespace of its own
 * (`ip netns add redscope-<random>`) with its loopback up, and writes
 * `/etc/netns/<namespace>/hosts` mapping each name to `address` (IPv6
 * loopback by default; another address is added to the namespace's loopback)
 * and an `nsswitch.conf` that resolves host names from that file only.
 * `ip netns exec` bind-mounts those files over /etc for the command it runs,
 * so a process started through `wrap()` resolves the names (and no other:
 * those fail with ENOTFOUND), and nothing outside the namespace sees them.
 * Needs root and `ip` (iproute2).
 *
 * `close()` ends every process still in the namespace (`ip netns pids`: what
 * a crashed scenario left behind), deletes the namespace and its folder under
 * /etc/netns; an exit hook does it too, so nothing outlives the run. A run
 * killed with SIGKILL gets no exit hook: `create()` first sweeps namespaces of
 * this kind that are over ten minutes old and have no process left
 * (sweepStale), so they do not pile up.
 */
export class NameNamespace {
  private readonly ip: string;
  private closed = false;
  /** Whether /etc/netns was made for this namespace (then it goes too, once empty). */
  private madeEtcNetns = false;

  private constructor(
    readonly name: string,
    /** The names that resolve inside, and the address they resolve to. */
    readonly names: readonly string[],
    readonly address: string,
  ) {
    this.ip = requireBinary('ip');
  }

  /**
   * `options.unansweredDns`: names outside the hosts file go to a DNS server
   * that never answers (see UnansweredDns) instead of failing at once.
   */
  static create(
    names: readonly string[],
    address = '::1',
    options: { unansweredDns?: UnansweredDns } = {},
  ): NameNamespace {
    if (isIP(address) === 0) throw new Error(`"${address}" is not an IP address`);
    const dns = options.unansweredDns;
    const count = (n: number) => Number.isInteger(n) && n >= 1;
    if (dns !== undefined && !(count(dns.timeoutSeconds) && count(dns.attempts))) {
      throw new Error('unansweredDns: timeoutSeconds and attempts must be integers >= 1');
    }
    for (const name of names) {
      if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(name)) {
        throw new Error(`"${name}" is not a DNS name`);
      }
    }
    const namespace = new NameNamespace(
      `redscope-${randomBytes(4).toString('hex')}`,
      [...names],
      address,
    );
    NameNamespace.sweepStale({ ip: namespace.ip });
    open.set(namespace.name, namespace);
    try {
      namespace.run(['netns', 'add', namespace.name]);
      const dir = join(NETNS_ETC, namespace.name);
      namespace.madeEtcNetns = !existsSync(NETNS_ETC);
      mkdirSync(dir, { recursive: true });
      // localhost too: without it, tools that look it up would ask a DNS server the namespace cannot reach.
      const lines = [
        '127.0.0.1 localhost',
        '::1 localhost ip6-localhost ip6-loopback',
        ...names.map((name) => `${address} ${name}`),
      ];
      writeFileSync(join(dir, 'hosts'), `${lines.join('\n')}\n`);
      // Host lookups from the hosts file only: any other name fails at once with ENOTFOUND,
      // as a name with no DNS record does, instead of timing out on a DNS server the
      // namespace cannot reach. The rest of the machine's NSS settings stay as they are.
      // With unansweredDns, other names go on to the DNS server that never answers.
      writeFileSync(
        join(dir, 'nsswitch.conf'),
        nsswitchWithHosts(dns === undefined ? 'files' : 'files dns'),
      );
      namespace.run(['netns', 'exec', namespace.name, namespace.ip, 'link', 'set', 'lo', 'up']);
      if (dns !== undefined) {
        writeFileSync(
          join(dir, 'resolv.conf'),
          `nameserver ${UNANSWERED_DNS_SERVER}\noptions timeout:${dns.timeoutSeconds} attempts:${dns.attempts}\n`,
        );
        namespace.dropDnsPackets();
      }
      if (address !== '::1' && !address.startsWith('127.')) {
        // Another address (a ULA such as fd00::5): on the namespace's loopback, so servers can bind it.
        const [family, prefix] = isIP(address) === 6 ? ['-6', '128'] : ['-4', '32'];
        namespace.run([
          'netns',
          'exec',
          namespace.name,
          namespace.ip,
          family,
          'addr',
          'add',
          `${address}/${prefix}`,
          'dev',
          'lo',
        ]);
      }
    } catch (error) {
      namespace.close();
      throw error;
    }
    return namespace;
  }

  /**
   * The route to UNANSWERED_DNS_SERVER: out of one end of a veth pair (both
   * ends in this namespace), to a MAC address the other end does not have, so
   * the packets leave and are dropped without an error or an ICMP reply.
   */
  private dropDnsPackets(): void {
    const inside = (...args: string[]) => this.run(['netns', 'exec', this.name, this.ip, ...args]);
    inside('link', 'add', 'rs-dns0', 'type', 'veth', 'peer', 'name', 'rs-dns1');
    inside('addr', 'add', `${UNANSWERED_DNS_SERVER.replace(/\.\d+$/, '.1')}/24`, 'dev', 'rs-dns0');
    inside('link', 'set', 'rs-dns0', 'up');
    inside('link', 'set', 'rs-dns1', 'up');
    inside(
      'neigh',
      'replace',
      UNANSWERED_DNS_SERVER,
      'lladdr',
      '02:00:00:00:00:53',
      'dev',
      'rs-dns0',
      'nud',
      'permanent',
    );
  }

  /**
   * Removes what a killed run left: namespaces named like ours, older than
   * STALE_AFTER_MS, with no process inside, and their /etc/netns folders (and
   * such folders whose namespace is gone). Never one this process has open.
   * Returns the names removed. `now` and `only` (consider these names alone)
   * are for tests, which must not touch another run's namespaces.
   */
  static sweepStale(
    options: { ip?: string; now?: number; only?: readonly string[] } = {},
  ): string[] {
    const ip = options.ip ?? requireBinary('ip');
    const now = options.now ?? Date.now();
    const ours = (name: string) =>
      OWN_NAME.test(name) &&
      !open.has(name) &&
      (options.only === undefined || options.only.includes(name));
    const listed = spawnSync(ip, ['netns', 'list'], { encoding: 'utf8' });
    if (listed.status !== 0) return [];
    const names = listed.stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '');
    const swept: string[] = [];
    const old = (path: string) => {
      try {
        return now - statSync(path).mtimeMs >= STALE_AFTER_MS;
      } catch {
        return false;
      }
    };
    let folders: string[] = [];
    try {
      folders = readdirSync(NETNS_ETC);
    } catch {
      // no /etc/netns
    }
    for (const folder of folders) {
      if (!ours(folder) || names.includes(folder)) continue;
      if (!old(join(NETNS_ETC, folder))) continue;
      rmSync(join(NETNS_ETC, folder), { recursive: true, force: true });
      swept.push(folder);
    }
    for (const name of names) {
      if (!ours(name)) continue;
      if (!old(join(NETNS_RUN, name))) continue;
      const pids = spawnSync(ip, ['netns', 'pids', name], { encoding: 'utf8' });
      if (pids.status !== 0 || pids.stdout.trim() !== '') continue;
      if (spawnSync(ip, ['netns', 'delete', name]).status !== 0) continue;
      rmSync(join(NETNS_ETC, name), { recursive: true, force: true });
      swept.push(name);
    }
    return swept;
  }

  /** The command and arguments that run `command args...` inside the namespace. */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: this.ip, args: ['netns', 'exec', this.name, command, ...args] };
  }

  /** Process ids of everything running in the namespace now. */
  pids(): number[] {
    const result = spawnSync(this.ip, ['netns', 'pids', this.name], { encoding: 'utf8' });
    if (result.status !== 0) return [];
    return result.stdout
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  }

  /**
   * SIGKILLs what still runs inside (only processes of this namespace, by id),
   * deletes the namespace and its /etc/netns folder. Safe to call twice;
   * synchronous, so the exit hook can run it.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync(this.ip, ['netns', 'delete', this.name]);
      rmSync(join(NETNS_ETC, this.name), { recursive: true, force: true });
      if (this.madeEtcNetns) {
        try {
          // Only when nothing else lives there (another namespace's files).
          rmdirSync(NETNS_ETC);
        } catch {
          // not empty, or already gone
        }
      }
    } finally {
      open.delete(this.name);
    }
  }

  private run(args: readonly string[]): void {
    try {
      execFileSync(this.ip, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(`ip ${args.join(' ')} failed: ${stderr || String(error)}`);
    }
  }
}
