import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AclUser, Credentials } from './acl.js';
import { requireBinary } from './binaries.js';
import { createTopologyCertificates, type TopologyCertificates } from './certificates.js';
import { type LocalNode, LocalNodes } from './local-nodes.js';
import { freePorts } from './ports.js';
import type { ConfigOverrides } from './redis-config.js';
import { sentinelConfigDir } from './repo-paths.js';
import {
  type AddressMode,
  dataNodeDirectives,
  monitoredMaster,
  type NodeAddress,
  nodeAddresses,
  sentinelDirectives,
  TOPOLOGY_HOST,
  topologyNodeNames,
  writeAclFiles,
} from './topology-node-config.js';

export type NodeRole = 'master' | 'replica' | 'sentinel';

export interface TopologyOptions {
  /** TLS on every port with client certificates verified (default true). */
  readonly tls?: boolean;
  /**
   * ACL users from `sentinel/users.acl.template` with fresh per-run passwords
   * (default true). Off: the ACL directives are dropped and `default` is open.
   */
  readonly acl?: boolean;
  /** Number of replicas (default 2). */
  readonly replicas?: number;
  /** Number of Sentinels (default 3); 0 starts Redis only. */
  readonly sentinels?: number;
  /** Where the config templates live (default: the repository's `sentinel/`). */
  readonly configDir?: string;
  /** Extra directives for the data nodes, on top of the templates (tests use it to speed things up). */
  readonly redisOverrides?: ConfigOverrides;
  /** Extra directives for the Sentinels, keyed like `sentinel down-after-milliseconds`. */
  readonly sentinelOverrides?: ConfigOverrides;
  /**
   * Fixed ports, master first, then replicas, then Sentinels (default: free
   * ports picked by the kernel). A taken port fails start() with the node's log.
   */
  readonly ports?: readonly number[];
  /** Write every node's log here as `<name>.log` (default: in the topology's own folder). */
  readonly logDir?: string;
  /**
   * `per-node` gives every node its own loopback address (127.a.b.x, random a
   * and b per topology), listening and connecting out from it, so a test can
   * cut the links between nodes by address (test/ha/support/partition.ts).
   * `hostnames` runs every node on IPv6 loopback (`::1`) addressed by a DNS
   * name (`redis-0.redscope.test`, `sentinel-0.redscope.test`: hostnameOf()):
   * replicas announce their name, Sentinels resolve and announce names, and
   * the server certificate names exactly those names. The names must resolve
   * to `::1` where the topology runs (stack/name-namespace.ts does that without
   * touching the machine's resolver).
   * Default `shared`: every node on 127.0.0.1.
   */
  readonly addresses?: AddressMode;
  /** How long start() may take before it gives up (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Progress messages (the CLI prints them; tests leave it off). */
  readonly log?: (message: string) => void;
}

/** A plain-data view of a running topology: what tests and other processes need to connect. */
export interface TopologyDescription {
  readonly masterName: string;
  /**
   * An address that reaches every node's port: 127.0.0.1, or in a hostname
   * topology the master's name at start (every name resolves to `::1`, and the
   * certificate names them all).
   */
  readonly host: string;
  /**
   * `host` is the node's own address (`host` above unless the topology runs an
   * address or a name per node); `pid` its process id when describe() was called.
   */
  readonly nodes: readonly {
    name: string;
    role: NodeRole;
    host: string;
    port: number;
    pid?: number;
  }[];
  /** Paths of the CA and the client certificate; absent for a plain-TCP topology. */
  readonly tls?: { caFile: string; certFile: string; keyFile: string };
  /**
   * Credentials for the data nodes (the `admin` user: tests may do anything);
   * absent when ACL is off. Sentinels take no credentials: send these to data nodes only.
   */
  readonly auth?: Credentials;
  /** Every ACL user of the data nodes with its per-run password (app, exporter, ...). */
  readonly users?: Readonly<Record<AclUser, Credentials>>;
  readonly dir: string;
}

const HOST = TOPOLOGY_HOST;

/**
 * A Redis master, its replicas and the Sentinels that watch it, each a real
 * process on a free loopback port, configured from the files in `sentinel/`.
 *
 * ```ts
 * const topology = await RedisTopology.start({ tls: true });
 * try { ...topology.connectionOptions()... } finally { await topology.stop(); }
 * ```
 */
export class RedisTopology extends LocalNodes<NodeRole> {
  private constructor(
    dir: string,
    readonly masterName: string,
    certificates: TopologyCertificates | undefined,
    options: TopologyOptions,
    /** An address that reaches every node's port (see TopologyDescription.host). */
    sharedHost: string,
  ) {
    super(dir, certificates, sharedHost, options.startTimeoutMs ?? 30_000);
  }

  protected override takesCredentials(node: LocalNode<NodeRole>): boolean {
    return node.role !== 'sentinel';
  }

  static async start(options: TopologyOptions = {}): Promise<RedisTopology> {
    const redisServer = requireBinary('redis-server');
    const sentinelCount = options.sentinels ?? 3;
    // Fails before anything is written when a binary is missing.
    const redisSentinel = sentinelCount > 0 ? requireBinary('redis-sentinel') : '';
    const templates = options.configDir ?? sentinelConfigDir();
    const sentinelTemplate = readFileSync(join(templates, 'sentinel.conf'), 'utf8');
    const { masterName, quorum } = monitoredMaster(templates);
    const mode = options.addresses ?? 'shared';
    if (mode === 'hostnames' && sentinelCount > 0) requireResolveHostnames(templates);

    const dir = mkdtempSync(join(tmpdir(), 'redscope-topology-'));
    const tls = options.tls ?? true;
    const replicaCount = options.replicas ?? 2;
    const nodeCount = 1 + replicaCount + sentinelCount;
    const addresses = nodeAddresses(mode, topologyNodeNames(replicaCount, sentinelCount));
    const hosts = addresses.map((address) => address.host);
    let topology: RedisTopology | undefined;
    try {
      const certificates = tls
        ? await createTopologyCertificates(
            join(dir, 'tls'),
            undefined,
            mode === 'hostnames'
              ? { hostnames: hosts }
              : { addresses: hosts.filter((host) => host !== HOST) },
          )
        : undefined;
      // Every name resolves to ::1 and the certificate names them all: the master's reaches any port.
      const sharedHost = mode === 'hostnames' ? (hosts[0] as string) : HOST;
      topology = new RedisTopology(dir, masterName, certificates, options, sharedHost);
      const files = { dir, certificates, logDir: options.logDir };
      const acl = (options.acl ?? true) ? writeAclFiles(dir, templates) : undefined;
      topology.passwords = acl?.passwords;
      const ports = options.ports
        ? [...options.ports]
        : await freePorts(nodeCount, (addresses[0] as NodeAddress).listen);
      if (ports.length !== nodeCount) {
        throw new Error(
          `ports: expected ${nodeCount} ports (master, replicas, Sentinels), got ${ports.length}`,
        );
      }
      const dataPorts = ports.slice(0, 1 + replicaCount);
      const sentinelPorts = ports.slice(1 + replicaCount);
      const masterPort = dataPorts[0] as number;
      const masterHost = hosts[0] as string;

      const masterTemplate = readFileSync(join(templates, 'redis-master.conf'), 'utf8');
      const replicaTemplate = readFileSync(join(templates, 'redis-replica.conf'), 'utf8');
      for (const [index, port] of dataPorts.entries()) {
        const role: NodeRole = index === 0 ? 'master' : 'replica';
        const name = `redis-${index}`;
        const address = addresses[index] as NodeAddress;
        const directives = dataNodeDirectives(files, {
          name,
          address,
          port,
          replicaOf: role === 'replica' ? { host: masterHost, port: masterPort } : undefined,
          aclFile: acl?.aclFile,
          passwords: acl?.passwords,
          extra: options.redisOverrides,
        });
        const template = role === 'master' ? masterTemplate : replicaTemplate;
        topology.addNode(
          { name, role, host: address.host, port },
          redisServer,
          template,
          directives,
        );
      }
      for (const [index, port] of sentinelPorts.entries()) {
        const name = `sentinel-${index}`;
        const address = addresses[1 + replicaCount + index] as NodeAddress;
        const directives = sentinelDirectives(files, {
          name,
          address,
          port,
          masterName,
          masterHost,
          masterPort,
          quorum,
          passwords: acl?.passwords,
          extra: options.sentinelOverrides,
        });
        topology.addNode(
          { name, role: 'sentinel', host: address.host, port },
          redisSentinel,
          sentinelTemplate,
          directives,
        );
      }

      const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
      options.log?.(`starting ${topology.nodes.size} nodes in ${dir}`);
      // Data nodes first: Sentinels that start before their master is up waste a discovery round.
      await Promise.all(
        topology.byRole('master', 'replica').map((n) => topology?.launch(n, deadline)),
      );
      await topology.waitForReplication(replicaCount, deadline);
      await Promise.all(topology.byRole('sentinel').map((n) => topology?.launch(n, deadline)));
      await topology.waitForSentinels(replicaCount, sentinelCount, deadline);
      options.log?.('topology ready');
      return topology;
    } catch (error) {
      if (topology) await topology.stop();
      else rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private async waitForReplication(replicas: number, deadline: number): Promise<void> {
    const master = this.byRole('master')[0];
    if (!master || replicas === 0) return;
    await this.waitUntil('replication to connect', deadline, async () => {
      const info = await this.query(master.port, (c) => c.info('replication'));
      const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
      return online >= replicas;
    });
  }

  private async waitForSentinels(
    replicas: number,
    sentinels: number,
    deadline: number,
  ): Promise<void> {
    if (sentinels === 0) return;
    await this.waitUntil(
      'every Sentinel to see the master, replicas and peers',
      deadline,
      async () => {
        for (const sentinel of this.byRole('sentinel')) {
          const fields = await this.query(sentinel.port, async (c) =>
            toRecord((await c.call('SENTINEL', 'MASTER', this.masterName)) as string[]),
          );
          if (Number(fields['num-slaves']) < replicas) return false;
          if (Number(fields['num-other-sentinels']) < sentinels - 1) return false;
          if ((fields.flags ?? '') !== 'master') return false;
        }
        return true;
      },
    );
  }

  describe(): TopologyDescription {
    return {
      masterName: this.masterName,
      host: this.sharedHost,
      dir: this.dir,
      nodes: this.describeNodes(),
      ...this.describeAccess(),
    };
  }

  /** The master's port as the Sentinels currently report it (follows failovers). */
  async currentMasterPort(): Promise<number> {
    return (await this.currentMasterAddress()).port;
  }

  /**
   * The master's address as the first answering Sentinel reports it (follows
   * failovers): an IP, or the node's name in a hostname topology.
   */
  async currentMasterAddress(): Promise<{ host: string; port: number }> {
    for (const sentinel of this.byRole('sentinel')) {
      if (!sentinel.process.running || sentinel.process.isPaused) continue;
      try {
        const addr = (await this.query(sentinel.port, (c) =>
          c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName),
        )) as [string, string] | null;
        if (addr) return { host: addr[0], port: Number(addr[1]) };
      } catch {
        // try the next Sentinel
      }
    }
    throw new Error('no Sentinel answered with the master address');
  }
}

/**
 * Sentinel resolves `sentinel monitor <name> ...` when it reads that line, so
 * `sentinel resolve-hostnames yes` must come before it in the template: the
 * launcher sets it in place, and appending it after would be too late.
 */
function requireResolveHostnames(templates: string): void {
  const file = join(templates, 'sentinel.conf');
  const text = readFileSync(file, 'utf8');
  const resolve = text.search(/^\s*sentinel\s+resolve-hostnames\b/m);
  const monitor = text.search(/^\s*sentinel\s+monitor\b/m);
  if (resolve === -1 || resolve > monitor) {
    throw new Error(
      `${file}: addresses 'hostnames' needs a "sentinel resolve-hostnames" line before "sentinel monitor"`,
    );
  }
}

function toRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string;
  return record;
}
