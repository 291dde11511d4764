import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import {
  CLUSTER_SLOTS,
  type ClusterNode,
  parseClusterNodes,
} from '../client/common/cluster-nodes.js';
import type { AclUser, Credentials } from './acl.js';
import { requireBinary } from './binaries.js';
import { createTopologyCertificates } from './certificates.js';
import { type ClientTlsFiles, LocalNodes } from './local-nodes.js';
import { freePorts } from './ports.js';
import type { ConfigOverrides } from './redis-config.js';
import { clusterConfigDir } from './repo-paths.js';
import {
  dataNodeDirectives,
  nodeAddresses,
  TOPOLOGY_HOST,
  writeAclFiles,
} from './topology-node-config.js';

export type ClusterRole = 'master' | 'replica';

export interface ClusterTopologyOptions {
  /** TLS on every client port, replication link and the cluster bus, client certificates verified (default true). */
  readonly tls?: boolean;
  /** ACL users from `cluster/users.acl.template` with fresh per-run passwords (default true). */
  readonly acl?: boolean;
  /** Masters, each serving an equal share of the 16384 slots (default 3). */
  readonly masters?: number;
  /** Replicas of each master (default 1). */
  readonly replicasPerMaster?: number;
  /** Where the config templates live (default: the repository's `cluster/`). */
  readonly configDir?: string;
  /** Extra directives for every node, on top of the template. */
  readonly redisOverrides?: ConfigOverrides;
  /** Fixed client ports, masters first (default: free ports picked by the kernel). */
  readonly ports?: readonly number[];
  /** Fixed cluster bus ports, one per node in the same order (default: free ports). */
  readonly busPorts?: readonly number[];
  /** Write every node's log here as `<name>.log` (default: in the cluster's own folder). */
  readonly logDir?: string;
  /** How long start() may take before it gives up (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Progress messages (the CLI prints them; tests leave it off). */
  readonly log?: (message: string) => void;
}

/** A plain-data view of a running cluster: what tests and other processes need to connect. */
export interface ClusterTopologyDescription {
  /** Roles as at start; `clusterNodes()` has the live view. */
  readonly nodes: readonly {
    name: string;
    role: ClusterRole;
    host: string;
    port: number;
    pid?: number;
  }[];
  readonly tls?: ClientTlsFiles;
  /** The `admin` user's credentials; absent when ACL is off. */
  readonly auth?: Credentials;
  readonly users?: Readonly<Record<AclUser, Credentials>>;
  readonly dir: string;
}

/**
 * A Redis Cluster of real `redis-server` processes on loopback, configured
 * from `cluster/redis-cluster.conf`: masters with equal slot ranges, each with
 * its replicas, TLS on clients, replication and the bus, ACL users. Built the
 * way `redis-cli --cluster create` does it (config epochs, MEET, slots,
 * REPLICATE), but without its fixed one-second waits.
 *
 * ```ts
 * const cluster = await ClusterTopology.start();
 * const client = new Cluster(cluster.seeds(), cluster.clusterOptions());
 * ```
 */
export class ClusterTopology extends LocalNodes<ClusterRole> {
  private constructor(
    dir: string,
    certificates: Awaited<ReturnType<typeof createTopologyCertificates>> | undefined,
    startTimeoutMs: number,
    private readonly busPorts: ReadonlyMap<string, number>,
  ) {
    super(dir, certificates, TOPOLOGY_HOST, startTimeoutMs);
  }

  static async start(options: ClusterTopologyOptions = {}): Promise<ClusterTopology> {
    const redisServer = requireBinary('redis-server');
    const templates = options.configDir ?? clusterConfigDir();
    const masters = options.masters ?? 3;
    const perMaster = options.replicasPerMaster ?? 1;
    if (!Number.isInteger(masters) || masters < 1) throw new Error('masters: expected 1 or more');
    if (!Number.isInteger(perMaster) || perMaster < 0) {
      throw new Error('replicasPerMaster: expected 0 or more');
    }
    const count = masters * (1 + perMaster);
    const names = Array.from({ length: count }, (_, i) => `redis-${i}`);
    const addresses = nodeAddresses('shared', names);
    const dir = mkdtempSync(join(tmpdir(), 'redscope-cluster-'));
    const startTimeoutMs = options.startTimeoutMs ?? 30_000;
    let topology: ClusterTopology | undefined;
    try {
      const tls = options.tls ?? true;
      const certificates = tls ? await createTopologyCertificates(join(dir, 'tls')) : undefined;
      // A client port and a bus port per node: the default bus port (port + 10000) may be taken.
      const ports =
        options.ports && options.busPorts
          ? [...options.ports, ...options.busPorts]
          : await freePorts(count * 2);
      if (ports.length !== count * 2) {
        throw new Error(`ports and busPorts: expected ${count} of each, one per node`);
      }
      const busPorts = new Map(names.map((name, i) => [name, ports[count + i] as number]));
      topology = new ClusterTopology(dir, certificates, startTimeoutMs, busPorts);
      const acl = (options.acl ?? true) ? writeAclFiles(dir, templates) : undefined;
      topology.passwords = acl?.passwords;
      const template = readFileSync(join(templates, 'redis-cluster.conf'), 'utf8');
      for (const [index, name] of names.entries()) {
        const port = ports[index] as number;
        topology.addNode(
          { name, role: index < masters ? 'master' : 'replica', host: TOPOLOGY_HOST, port },
          redisServer,
          template,
          {
            ...dataNodeDirectives(
              { dir, certificates, logDir: options.logDir },
              {
                name,
                address: addresses[index] as (typeof addresses)[number],
                port,
                replicaOf: undefined,
                aclFile: acl?.aclFile,
                passwords: acl?.passwords,
                extra: undefined,
              },
            ),
            'cluster-port': String(busPorts.get(name)),
            // A node learns its own IP from a peer's MEET; a lone master never would, and
            // would hand clients an empty host in CLUSTER SLOTS.
            'cluster-announce-ip': (addresses[index] as (typeof addresses)[number]).host,
            // Relative to `dir`, which is the node's own folder.
            'cluster-config-file': 'nodes.conf',
            ...options.redisOverrides,
          },
        );
      }
      const deadline = Date.now() + startTimeoutMs;
      options.log?.(`starting ${count} cluster nodes in ${dir}`);
      await Promise.all(
        topology.byRole('master', 'replica').map((n) => topology?.launch(n, deadline)),
      );
      await topology.form(masters, perMaster, deadline);
      options.log?.('cluster ready: every slot covered, every replica linked');
      return topology;
    } catch (error) {
      if (topology) await topology.stop();
      else rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Epochs, MEET, slots, then replicas, as `redis-cli --cluster create` does. */
  private async form(masters: number, perMaster: number, deadline: number): Promise<void> {
    const all = [...this.nodes.values()];
    const ids = new Map<string, string>();
    for (const node of all) {
      ids.set(
        node.name,
        await this.query(node.port, (c) => c.call('CLUSTER', 'MYID') as Promise<string>),
      );
    }
    const masterNodes = all.slice(0, masters);
    for (const [i, node] of masterNodes.entries()) {
      // Distinct epochs up front: equal ones would be resolved by collision handling, slowly.
      await this.query(node.port, (c) => c.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1)));
      // redis-cli --cluster create's split, so shards have the names users see elsewhere.
      const first = i === 0 ? 0 : Math.round((CLUSTER_SLOTS / masters) * i - 1) + 1;
      const last =
        i === masters - 1 ? CLUSTER_SLOTS - 1 : Math.round((CLUSTER_SLOTS / masters) * (i + 1) - 1);
      await this.query(node.port, (c) =>
        c.call('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last)),
      );
    }
    const seed = all[0] as (typeof all)[number];
    for (const node of all.slice(1)) {
      await this.query(seed.port, (c) =>
        c.call(
          'CLUSTER',
          'MEET',
          node.host,
          String(node.port),
          String(this.busPorts.get(node.name)),
        ),
      );
    }
    await this.waitUntil('every node to know every other', deadline, async () => {
      for (const node of all) {
        const nodes = await this.clusterNodes(node.name);
        if (nodes.length < all.length || nodes.some((n) => n.flags.includes('handshake'))) {
          return false;
        }
      }
      return true;
    });
    for (const [i, node] of all.slice(masters).entries()) {
      const master = masterNodes[i % masters] as (typeof masterNodes)[number];
      await this.query(node.port, (c) =>
        c.call('CLUSTER', 'REPLICATE', ids.get(master.name) as string),
      );
    }
    // A fresh master sends its replicas nothing until its next replication ping (10 s):
    // FLUSHALL of the empty cluster moves their offsets at once (see waitForHealthyUntil).
    await this.waitUntil('every replica to sync', deadline, async () => {
      for (const node of all.slice(masters)) {
        const info = await this.query(node.port, (c) => c.info('replication'));
        if (!/^master_link_status:up/m.test(info)) return false;
      }
      return true;
    });
    for (const node of masterNodes) await this.query(node.port, (c) => c.call('FLUSHALL'));
    await this.waitForHealthyUntil(masters * perMaster, deadline);
  }

  /**
   * Waits until every running node says `cluster_state:ok` with all 16384
   * slots ok, every running replica has its link to its master up, and every
   * node's `CLUSTER SLOTS` lists those replicas (a killed node is left out;
   * back after a restart, it counts again). With `failedOver`, also until no
   * node serves slots from that node any more: right after a kill or pause,
   * before anyone noticed, the cluster still looks healthy.
   */
  async waitForHealthy(timeoutMs = 30_000, failedOver?: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (failedOver !== undefined) {
      const port = this.port(failedOver);
      await this.waitUntil(
        `the slots of ${failedOver} to move to its replica`,
        deadline,
        async () => (await this.clusterNodes()).every((n) => n.port !== port || n.slotCount === 0),
      );
    }
    await this.waitForHealthyUntil(0, deadline);
  }

  /** See waitForHealthy(); at start, also waits for `replicas` replicas to exist. */
  private async waitForHealthyUntil(replicas: number, deadline: number): Promise<void> {
    await this.waitUntil('every slot covered and every replica linked', deadline, async () => {
      let linked = 0;
      const listed: number[] = [];
      for (const node of this.nodes.values()) {
        if (!node.process.running || node.process.isPaused) continue;
        const [info, replication, slots] = await this.query(node.port, (c) =>
          Promise.all([
            c.call('CLUSTER', 'INFO') as Promise<string>,
            c.info('replication'),
            c.call('CLUSTER', 'SLOTS') as Promise<unknown[][]>,
          ]),
        );
        if (!/^cluster_state:ok\r?$/m.test(info)) return false;
        if (!new RegExp(`^cluster_slots_ok:${CLUSTER_SLOTS}\\r?$`, 'm').test(info)) return false;
        if (/^role:slave/m.test(replication)) {
          if (!/^master_link_status:up/m.test(replication)) return false;
          linked++;
        }
        // Replicas per master in the slot map this node hands to clients.
        const perMaster = new Map<unknown, number>();
        for (const range of slots) {
          // An empty host: a node that does not know its address, which clients skip.
          if (range.slice(2).some((endpoint) => (endpoint as unknown[])[0] === '')) return false;
          perMaster.set((range[2] as unknown[])[1], range.length - 3);
        }
        listed.push([...perMaster.values()].reduce((sum, n) => sum + n, 0));
      }
      // CLUSTER SLOTS leaves out a replica until it has heard of replicated data from it (Redis
      // 7.0): a client reading the map earlier would send its replica reads to the masters.
      return linked >= replicas && listed.every((n) => n === linked);
    });
  }

  /** CLUSTER NODES as seen by `via` (default: the first node that answers). */
  async clusterNodes(via?: string): Promise<ClusterNode[]> {
    const candidates = via ? [this.node(via)] : [...this.nodes.values()];
    let lastError: unknown;
    for (const node of candidates) {
      if (!node.process.running || node.process.isPaused) continue;
      try {
        return parseClusterNodes(
          await this.query(node.port, (c) => c.call('CLUSTER', 'NODES') as Promise<string>),
        );
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(
      `no cluster node answered CLUSTER NODES${lastError ? `: ${String(lastError)}` : ''}`,
    );
  }

  /** Name of the node that serves `key`'s slot as master now (follows failovers and resharding). */
  async masterNameOf(key: string): Promise<string> {
    for (const node of this.nodes.values()) {
      if (!node.process.running || node.process.isPaused) continue;
      try {
        const slot = (await this.query(node.port, (c) =>
          c.call('CLUSTER', 'KEYSLOT', key),
        )) as number;
        const owner = (await this.clusterNodes(node.name)).find(
          (n) =>
            n.role === 'master' && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b),
        );
        const entry = [...this.nodes.values()].find((n) => n.port === owner?.port);
        if (entry) return entry.name;
      } catch {
        // ask the next node
      }
    }
    throw new Error(`no node could say which master serves "${key}"`);
  }

  /** Every node's address: seeds for an ioredis Cluster. */
  seeds(): { host: string; port: number }[] {
    return [...this.nodes.values()].map(({ host, port }) => ({ host, port }));
  }

  /** ioredis Cluster options with this cluster's TLS files and admin user. */
  clusterOptions(extra: ClusterOptions = {}): ClusterOptions {
    const { host: _host, lazyConnect: _lazy, ...redisOptions } = this.connectionOptions();
    return {
      ...extra,
      redisOptions: {
        ...redisOptions,
        disableClientInfo: true,
        ...extra.redisOptions,
      } as RedisOptions,
    };
  }

  describe(): ClusterTopologyDescription {
    return { dir: this.dir, nodes: this.describeNodes(), ...this.describeAccess() };
  }
}
