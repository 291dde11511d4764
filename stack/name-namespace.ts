import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';

/** Where `ip netns exec` looks for per-namespace files that it bind-mounts over /etc. */
const NETNS_ETC = '/etc/netns';

/** The machine's nsswitch.conf with `hosts: files`. */
function filesOnlyNsswitch(): string {
  let text = '';
  try {
    text = readFileSync('/etc/nsswitch.conf', 'utf8');
  } catch {
    // none: glibc's defaults, apart from the hosts line below
  }
  const kept = text.split('\n').filter((line) => !/^\s*hosts\s*:/.test(line));
  return `${[...kept, 'hosts: files'].join('\n').trim()}\n`;
}

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
 * /etc/netns; an exit hook does it too, so nothing outlives the run.
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

  static create(names: readonly string[], address = '::1'): NameNamespace {
    if (isIP(address) === 0) throw new Error(`"${address}" is not an IP address`);
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
      writeFileSync(join(dir, 'nsswitch.conf'), filesOnlyNsswitch());
      namespace.run(['netns', 'exec', namespace.name, namespace.ip, 'link', 'set', 'lo', 'up']);
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
