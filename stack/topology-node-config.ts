import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  ACL_USERS,
  type AclPasswords,
  generatePasswords,
  REPLICATION_USER,
  renderAclFile,
  SENTINEL_USER,
} from './acl.js';
import type { TopologyCertificates } from './certificates.js';
import { type ConfigOverrides, TLS_DIRECTIVES } from './redis-config.js';

/** Every node of a local topology listens here, and announces this address. */
export const TOPOLOGY_HOST = '127.0.0.1';

/** Where the nodes of a hostname topology (`addresses: 'hostnames'`) listen: IPv6 loopback. */
const TOPOLOGY_HOST_V6 = '::1';

/** The DNS domain of the names a hostname topology gives its nodes (`.test` is reserved, RFC 2606). */
const TOPOLOGY_DOMAIN = 'redscope.test';

/**
 * How a topology addresses its nodes: every node on 127.0.0.1 (`shared`), each
 * on its own 127.a.b.x (`per-node`), or each by a DNS name that resolves to
 * `::1` (`hostnames`: the names must resolve where the topology runs, see
 * stack/name-namespace.ts).
 */
export type AddressMode = 'shared' | 'per-node' | 'hostnames';

/** Where one node is reached and where it listens. */
export interface NodeAddress {
  /** What clients and the other nodes dial, and what the node announces: an IP or a DNS name. */
  readonly host: string;
  /** The address it listens on (`bind`). */
  readonly listen: string;
  /** The address its outgoing links leave from, when it must be its own (partitions cut by address). */
  readonly source?: string;
}

/** The DNS name of node `name` (`redis-0`, `sentinel-1`) in a hostname topology. */
export function hostnameOf(name: string, domain = TOPOLOGY_DOMAIN): string {
  return `${name}.${domain}`;
}

/** The node names of a topology, in start order: `redis-0` (the master), the replicas, the Sentinels. */
export function topologyNodeNames(replicas: number, sentinels: number): string[] {
  return [
    ...Array.from({ length: 1 + replicas }, (_, i) => `redis-${i}`),
    ...Array.from({ length: sentinels }, (_, i) => `sentinel-${i}`),
  ];
}

/**
 * The address of each node, in the order of topologyNodeNames(): all on
 * 127.0.0.1, one each in a random 127.a.b.0/24, or a name each on `::1`.
 */
export function nodeAddresses(mode: AddressMode, names: readonly string[]): NodeAddress[] {
  if (mode === 'shared') return names.map(() => ({ host: TOPOLOGY_HOST, listen: TOPOLOGY_HOST }));
  if (mode === 'hostnames') {
    return names.map((name) => ({ host: hostnameOf(name), listen: TOPOLOGY_HOST_V6 }));
  }
  // Random per topology, so concurrent topologies (and their partition rules) never share one.
  const a = 1 + Math.floor(Math.random() * 250);
  const b = 1 + Math.floor(Math.random() * 250);
  return names.map((_, i) => {
    const host = `127.${a}.${b}.${10 + i}`;
    return { host, listen: host, source: host };
  });
}

/** Where a topology keeps its files, and its certificates when it runs TLS. */
export interface TopologyFiles {
  readonly dir: string;
  readonly certificates: TopologyCertificates | undefined;
  /** Where node logs go, as `<name>.log` (default: `redis.log` in each node's folder). */
  readonly logDir?: string | undefined;
}

/** A node's log file: in the shared log folder when there is one, so `redscope up` keeps them together. */
export function nodeLogFile(files: TopologyFiles, name: string): string {
  return files.logDir ? join(files.logDir, `${name}.log`) : join(files.dir, name, 'redis.log');
}

/** The master group and quorum that the shipped `sentinel.conf` monitors. */
export function monitoredMaster(templates: string): { masterName: string; quorum: string } {
  const file = join(templates, 'sentinel.conf');
  const monitor = /^\s*sentinel\s+monitor\s+(\S+)\s+\S+\s+\S+\s+(\d+)/m.exec(
    readFileSync(file, 'utf8'),
  );
  if (!monitor?.[1] || !monitor[2]) throw new Error(`${file} has no "sentinel monitor" line`);
  return { masterName: monitor[1], quorum: monitor[2] };
}

/** Writes per-run passwords (mode 0600) and the rendered ACL file; returns the file and the passwords. */
export function writeAclFiles(
  dir: string,
  templates: string,
): { aclFile: string; passwords: AclPasswords } {
  const passwords = generatePasswords();
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  for (const user of ACL_USERS) {
    writeFileSync(join(secrets, `${user}.password`), passwords[user], { mode: 0o600 });
  }
  const aclFile = join(secrets, 'users.acl');
  const template = readFileSync(join(templates, 'users.acl.template'), 'utf8');
  writeFileSync(aclFile, renderAclFile(template, passwords), { mode: 0o600 });
  return { aclFile, passwords };
}

/** What every node gets on top of its template: loopback, its own dir and log, and TLS or plain TCP. */
function commonDirectives(
  files: TopologyFiles,
  port: number,
  name: string,
  address: NodeAddress,
): ConfigOverrides {
  const nodeDir = join(files.dir, name);
  const base: Record<string, string | null> = {
    bind: address.listen,
    // Outgoing links (replication, Sentinel to node) leave from the node's own address, so a
    // partition can cut them by address; elsewhere the kernel picks.
    'bind-source-addr': address.source ?? null,
    daemonize: 'no',
    dir: nodeDir,
    logfile: nodeLogFile(files, name),
    pidfile: join(nodeDir, 'redis.pid'),
  };
  if (!files.certificates) {
    const plain: Record<string, string | null> = { ...base, port: String(port) };
    for (const key of TLS_DIRECTIVES) plain[key] = null;
    return plain;
  }
  const { ca, server } = files.certificates;
  return {
    ...base,
    port: '0',
    'tls-port': String(port),
    'tls-cert-file': server.certFile,
    'tls-key-file': server.keyFile,
    'tls-ca-cert-file': ca.certFile,
  };
}

/** The directives of a data node: `replica` nodes follow the master, and replicate as the ACL's replication user. */
export function dataNodeDirectives(
  files: TopologyFiles,
  node: {
    readonly name: string;
    readonly address: NodeAddress;
    readonly port: number;
    /** The master's address (its name in a hostname topology), for a replica. */
    readonly replicaOf: { readonly host: string; readonly port: number } | undefined;
    readonly aclFile: string | undefined;
    readonly passwords: AclPasswords | undefined;
    readonly extra: ConfigOverrides | undefined;
  },
): ConfigOverrides {
  return {
    ...commonDirectives(files, node.port, node.name, node.address),
    replicaof:
      node.replicaOf === undefined ? null : `${node.replicaOf.host} ${node.replicaOf.port}`,
    // The master lists the replica under this address, and the Sentinels learn it from there:
    // a name makes them announce the name, which clients then dial (and TLS checks).
    'replica-announce-ip': node.address.host,
    aclfile: node.aclFile ?? null,
    masteruser: node.passwords ? REPLICATION_USER : null,
    masterauth: node.passwords ? node.passwords.replica : null,
    ...node.extra,
  };
}

/** The directives of a Sentinel: which master to monitor, and how to authenticate to it. */
export function sentinelDirectives(
  files: TopologyFiles,
  node: {
    readonly name: string;
    readonly address: NodeAddress;
    readonly port: number;
    readonly masterName: string;
    readonly masterHost: string;
    readonly masterPort: number;
    readonly quorum: string;
    readonly passwords: AclPasswords | undefined;
    readonly extra: ConfigOverrides | undefined;
  },
): ConfigOverrides {
  const { masterName, passwords } = node;
  const byName = isIP(node.address.host) === 0;
  return {
    ...commonDirectives(files, node.port, node.name, node.address),
    // Names in `sentinel monitor`, in the replicas' announcements and in the other Sentinels'
    // hellos need resolve-hostnames (set in place: it must come before the monitor line);
    // announce-hostnames makes Sentinel hand those names, not their IPs, to clients.
    ...(byName
      ? { 'sentinel resolve-hostnames': 'yes', 'sentinel announce-hostnames': 'yes' }
      : {}),
    'sentinel monitor': `${masterName} ${node.masterHost} ${node.masterPort} ${node.quorum}`,
    'sentinel announce-ip': node.address.host,
    'sentinel auth-user': passwords ? `${masterName} ${SENTINEL_USER}` : null,
    'sentinel auth-pass': passwords ? `${masterName} ${passwords.sentinel}` : null,
    ...node.extra,
  };
}
