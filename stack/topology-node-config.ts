import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** Where a topology keeps its files, and its certificates when it runs TLS. */
export interface TopologyFiles {
  readonly dir: string;
  readonly certificates: TopologyCertificates | undefined;
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
  host: string,
): ConfigOverrides {
  const nodeDir = join(files.dir, name);
  const base: Record<string, string | null> = {
    bind: host,
    // Outgoing links (replication, Sentinel to node) leave from the node's own address, so a
    // partition can cut them by address; on the shared address this changes nothing.
    'bind-source-addr': host === TOPOLOGY_HOST ? null : host,
    daemonize: 'no',
    dir: nodeDir,
    logfile: join(nodeDir, 'redis.log'),
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
    readonly host: string;
    readonly port: number;
    /** The master's address, for a replica. */
    readonly replicaOf: { readonly host: string; readonly port: number } | undefined;
    readonly aclFile: string | undefined;
    readonly passwords: AclPasswords | undefined;
    readonly extra: ConfigOverrides | undefined;
  },
): ConfigOverrides {
  return {
    ...commonDirectives(files, node.port, node.name, node.host),
    replicaof:
      node.replicaOf === undefined ? null : `${node.replicaOf.host} ${node.replicaOf.port}`,
    'replica-announce-ip': node.host,
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
    readonly host: string;
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
  return {
    ...commonDirectives(files, node.port, node.name, node.host),
    'sentinel monitor': `${masterName} ${node.masterHost} ${node.masterPort} ${node.quorum}`,
    'sentinel announce-ip': node.host,
    'sentinel auth-user': passwords ? `${masterName} ${SENTINEL_USER}` : null,
    'sentinel auth-pass': passwords ? `${masterName} ${passwords.sentinel}` : null,
    ...node.extra,
  };
}
