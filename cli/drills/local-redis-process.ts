/**
 * The checks before `redscope failover --crash` sends SIGKILL: the pid Redis
 * reports is only a pid of this machine when Redis runs here, in this pid
 * namespace. A Redis in a container, on another host behind a tunnel, or a
 * pid reused since: each would make the kill hit a stranger.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { isIP } from 'node:net';

/** The kill would not be safe; the message says which check failed. */
export class NotLocalError extends Error {
  override readonly name = 'NotLocalError';
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped spelling. */
export function isLoopbackAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '').toLowerCase();
  const v4 = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  if (isIP(v4) === 4) return v4.split('.')[0] === '127';
  if (isIP(bare) !== 6) return false;
  // Any spelling of ::1 (0:0:0:0:0:0:0:1, ::0:1): expand and compare.
  const [head = '', tail = ''] = bare.includes('::') ? bare.split('::') : [bare, ''];
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return (
    groups.length === 8 && groups.every((g, i) => Number.parseInt(g, 16) === (i === 7 ? 1 : 0))
  );
}

export type Lookup = (host: string) => Promise<readonly string[]>;

const systemLookup: Lookup = async (host) =>
  (await dnsLookup(host, { all: true })).map((a) => a.address);

/**
 * Refuses unless `host` is a loopback address, or a name every address of
 * which is one (`localhost`): only then is the master this machine's.
 */
export async function assertLoopbackHost(
  host: string,
  lookup: Lookup = systemLookup,
): Promise<void> {
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
    if (!isLoopbackAddress(host)) {
      throw new NotLocalError(
        `the master is at ${host}, not a loopback address of this machine: --crash kills a local process, run it on the master's host`,
      );
    }
    return;
  }
  let addresses: readonly string[];
  try {
    addresses = await lookup(host);
  } catch (error) {
    throw new NotLocalError(
      `the master's name ${host} does not resolve here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): --crash kills only a master on this machine's loopback`,
    );
  }
  const remote = addresses.filter((a) => !isLoopbackAddress(a));
  if (addresses.length === 0 || remote.length > 0) {
    throw new NotLocalError(
      `the master's name ${host} resolves to ${remote.join(', ') || 'nothing'}, not a loopback address of this machine: --crash kills a local process, run it on the master's host`,
    );
  }
}

export interface ProcFs {
  readFile(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  readlink(path: string): Promise<string>;
}

const realProc: ProcFs = {
  readFile: (path) => readFile(path, 'utf8'),
  readdir: (path) => readdir(path),
  readlink: (path) => readlink(path),
};

/**
 * Refuses unless `pid` is a redis-server process of this machine that holds
 * the listening socket of `port`: then the process Redis named is the one we
 * reached, not a namesake in another pid namespace or a pid reused since.
 */
export async function assertRedisServerProcess(
  pid: number,
  port: number,
  proc: ProcFs = realProc,
): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 1) {
    throw new NotLocalError(`Redis reported process_id ${pid}, which is not a process to kill`);
  }
  const read = async (path: string) => {
    try {
      return await proc.readFile(path);
    } catch (error) {
      throw new NotLocalError(
        `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}): pid ${pid} is not a process of this machine that we may check`,
      );
    }
  };
  const comm = (await read(`/proc/${pid}/comm`)).trim();
  if (comm !== 'redis-server') {
    throw new NotLocalError(
      `pid ${pid} here is "${comm.replace(/[^\x20-\x7e]/g, '?')}", not redis-server: the master's pid is not one of this machine's (a container, another host?)`,
    );
  }
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await proc.readFile(table);
    } catch {
      continue; // No IPv6 on this machine.
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1] ?? '';
      // State 0A is LISTEN; the port is the hex after the colon.
      if (fields[3] === '0A' && Number.parseInt(local.split(':')[1] ?? '', 16) === port) {
        inodes.add(fields[9] ?? '');
      }
    }
  }
  let fds: string[];
  try {
    fds = await proc.readdir(`/proc/${pid}/fd`);
  } catch (error) {
    throw new NotLocalError(
      `cannot list /proc/${pid}/fd (${(error as NodeJS.ErrnoException).code ?? 'error'}): the master runs as another user, its kill is not ours to do`,
    );
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = await proc.readlink(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // Closed since the listing.
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined && inodes.has(inode)) return;
  }
  throw new NotLocalError(
    `redis-server pid ${pid} does not listen on port ${port} here: the master's pid is not one of this machine's (a container, another host?)`,
  );
}
