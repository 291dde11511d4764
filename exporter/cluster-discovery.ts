import { ReplyError } from 'ioredis';
import type { Logger } from 'pino';
import { type ClusterNode, parseClusterNodes, shardOf } from '../client/common/cluster-nodes.js';
import type { AllowList } from './allow-list.js';
import { family, type MetricSink } from './exposition.js';
import { RecentMap } from './recent-map.js';
import { classifyScrapeError, describeScrapeError } from './scrape-errors.js';
import { InvalidTargetError, parseTarget, type Target } from './target.js';
import type { TargetAccess } from './target-credentials.js';
import { type TargetPool, withDeadline } from './target-pool.js';

/** One Prometheus http_sd target group: here, always one node. */
export interface DiscoveryGroup {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** The http_sd labels of each node; `__meta_` labels are dropped after relabelling unless kept. */
export const DISCOVERY_LABELS = {
  nodeId: '__meta_redscope_cluster_node_id',
  role: '__meta_redscope_cluster_role',
  shard: '__meta_redscope_cluster_shard',
} as const;

/** Why a node of the cluster is not listed: the `reason` label. */
export const EXCLUSION_REASONS = ['allow_list', 'address'] as const;
type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

/**
 * The seed did not give a node list: `status` is what /discover-cluster-nodes
 * answers (503 when it did not answer, 502 when it answered something else
 * than a cluster's node table), and Prometheus keeps its last targets.
 */
export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  constructor(
    readonly status: 502 | 503,
    message: string,
  ) {
    super(message);
  }
}

const discoveryTargets = family({
  name: 'redscope_exporter_cluster_discovery_targets',
  type: 'gauge',
  help: 'Cluster nodes /discover-cluster-nodes listed from this seed in its last answer',
  labels: ['seed'],
  source: 'CLUSTER NODES on the seed, filtered by --allow-target',
});
const discoveryExcluded = family({
  name: 'redscope_exporter_cluster_discovery_excluded_targets',
  type: 'gauge',
  help: 'Cluster nodes left out of the last answer from this seed: outside --allow-target, or without a usable address',
  labels: ['seed', 'reason'],
  source: 'CLUSTER NODES on the seed, filtered by --allow-target',
});
const discoveryErrors = family({
  name: 'redscope_exporter_cluster_discovery_errors_total',
  type: 'counter',
  help: 'Discoveries from this seed that failed (the seed down, not a cluster node, a refused command)',
  labels: ['seed'],
  source: 'exporter state since start',
});

/** On /metrics: what node discovery did, per seed. */
export const discoveryFamilies = [discoveryTargets, discoveryExcluded, discoveryErrors];

/** Seeds whose history is kept; past this the least recently asked is forgotten. */
const MAX_SEEDS = 200;

interface SeedState {
  listed: number;
  excluded: Map<ExclusionReason, number>;
  errors: number;
  /** The last problem logged (an error or the exclusions), so each is logged once, not per poll. */
  lastLogged: string | undefined;
}

interface CachedAnswer {
  readonly groups: readonly DiscoveryGroup[];
  readonly until: number;
}

export interface ClusterDiscoveryOptions {
  readonly pool: TargetPool;
  readonly allowList: AllowList;
  readonly logger: Logger;
  /** How long an answer is reused for the same seed and credentials. */
  readonly cacheMs: number;
}

/**
 * Node discovery for Prometheus' http_sd_configs: the nodes of the cluster a
 * seed belongs to, as /scrape targets with the seed's scheme, each in its own
 * group with its id, role and shard as `__meta_` labels. Reads CLUSTER NODES
 * on the seed's pooled connection (the one /scrape uses), so a poll costs one
 * command; answers are cached for `cacheMs` and shared by concurrent polls,
 * so many Prometheus servers polling one exporter cost the seed one command
 * per period.
 */
export class ClusterDiscovery {
  private readonly cache = new RecentMap<string, CachedAnswer>(MAX_SEEDS);
  private readonly inflight = new Map<string, Promise<readonly DiscoveryGroup[]>>();
  private readonly seeds = new RecentMap<string, SeedState>(MAX_SEEDS);

  constructor(private readonly options: ClusterDiscoveryOptions) {}

  /** The groups for the cluster of `access.target`; rejects with DiscoveryError by the budget. */
  discover(access: TargetAccess, budgetMs: number): Promise<readonly DiscoveryGroup[]> {
    const connection = this.options.pool.get(access);
    // The pool's key: the seed and an HMAC of the credentials it is read with.
    const key = connection.scope;
    const cached = this.cache.peek(key);
    if (cached && cached.until > Date.now()) return Promise.resolve(cached.groups);
    let running = this.inflight.get(key);
    if (!running) {
      running = this.read(access, budgetMs).then(
        (groups) => {
          this.cache.set(key, { groups, until: Date.now() + this.options.cacheMs });
          return groups;
        },
        (error: unknown) => {
          this.stateOf(access.target).errors++;
          throw error;
        },
      );
      const settled = running;
      this.inflight.set(key, settled);
      settled.then(
        () => this.inflight.delete(key),
        () => this.inflight.delete(key),
      );
    }
    return running;
  }

  /** The discovery self-metrics, per seed asked recently. */
  render(sink: MetricSink): void {
    for (const [seed, state] of this.seeds) {
      sink.add(discoveryTargets, state.listed, seed);
      for (const reason of EXCLUSION_REASONS) {
        sink.add(discoveryExcluded, state.excluded.get(reason) ?? 0, seed, reason);
      }
      sink.add(discoveryErrors, state.errors, seed);
    }
  }

  private async read(access: TargetAccess, budgetMs: number): Promise<DiscoveryGroup[]> {
    const seed = access.target;
    const deadline = Date.now() + budgetMs;
    const connection = this.options.pool.get(access);
    let text: string;
    try {
      const client = await connection.ready(deadline, budgetMs);
      if (connection.mode !== 'cluster') {
        throw new DiscoveryError(
          502,
          `seed ${seed.key} is not a Redis Cluster node (INFO redis_mode is not "cluster")`,
        );
      }
      text = String(await withDeadline(client.call('CLUSTER', 'NODES'), deadline, budgetMs));
    } catch (error) {
      throw this.failed(connection.discard.bind(connection), seed, error);
    }
    let nodes: ClusterNode[];
    try {
      nodes = parseClusterNodes(text);
    } catch (error) {
      throw this.failed(undefined, seed, error, 502);
    }
    return this.groups(seed, nodes);
  }

  /** The node table as groups, keeping the nodes /scrape would accept. */
  private groups(seed: Target, nodes: readonly ClusterNode[]): DiscoveryGroup[] {
    const excluded = new Map<ExclusionReason, number>();
    const leftOut: string[] = [];
    const groups: DiscoveryGroup[] = [];
    for (const node of nodes) {
      const target = nodeTarget(seed, node);
      const reason: ExclusionReason | undefined =
        typeof target === 'string'
          ? 'address'
          : this.options.allowList.allows(target)
            ? undefined
            : 'allow_list';
      if (reason !== undefined) {
        excluded.set(reason, (excluded.get(reason) ?? 0) + 1);
        leftOut.push(typeof target === 'string' ? `${node.id} (${target})` : target.key);
        continue;
      }
      groups.push({
        targets: [(target as Target).key],
        labels: {
          [DISCOVERY_LABELS.nodeId]: node.id,
          [DISCOVERY_LABELS.role]: node.role,
          [DISCOVERY_LABELS.shard]: shardOf(node, nodes) ?? '',
        },
      });
    }
    groups.sort((a, b) => ((a.targets[0] ?? '') < (b.targets[0] ?? '') ? -1 : 1));
    // Sorted: CLUSTER NODES lists nodes in no fixed order, and the log line must not repeat for that.
    leftOut.sort();
    const state = this.stateOf(seed);
    state.listed = groups.length;
    state.excluded = excluded;
    // Logged when what is left out changes, not on every poll.
    const logged = leftOut.length === 0 ? undefined : `excluded ${leftOut.join(', ')}`;
    if (logged !== undefined && logged !== state.lastLogged) {
      this.options.logger.warn(
        { seed: seed.key, excluded: leftOut },
        'cluster discovery left out nodes outside --allow-target or without a usable address',
      );
    }
    state.lastLogged = logged;
    return groups;
  }

  /** A DiscoveryError naming the seed, logged when the seed starts failing (or fails differently). */
  private failed(
    discard: (() => void) | undefined,
    seed: Target,
    error: unknown,
    status?: 502 | 503,
  ): DiscoveryError {
    let failure: DiscoveryError;
    if (error instanceof DiscoveryError) failure = error;
    else {
      const reason = classifyScrapeError(error);
      // A late reply cannot be matched to its command any more: the connection goes, as after a scrape.
      if (reason === 'timeout' || reason === 'protocol') discard?.();
      // 503: nothing answered. 502: the seed answered, but not with a node table (WRONGPASS,
      // NOPERM, a TLS refusal, garbage).
      const unreachable =
        (reason === 'refused' || reason === 'timeout') && !(error instanceof ReplyError);
      failure = new DiscoveryError(
        status ?? (unreachable ? 503 : 502),
        `seed ${seed.key} did not give its cluster nodes (${reason}): ${describeScrapeError(error)}`,
      );
    }
    const state = this.stateOf(seed);
    if (state.lastLogged !== failure.message) {
      state.lastLogged = failure.message;
      this.options.logger.warn(
        { seed: seed.key, err: failure.message },
        'cluster discovery failed',
      );
    }
    return failure;
  }

  private stateOf(seed: Target): SeedState {
    return this.seeds.use(seed.key, () => ({
      listed: 0,
      excluded: new Map(),
      errors: 0,
      lastLogged: undefined,
    }));
  }
}

/**
 * The /scrape target of a node: the seed's scheme, the node's announced
 * hostname (else its IP, bracketed when IPv6) and client port; a string
 * saying why when the node has no usable address (`noaddr`, still in
 * handshake, a host /scrape would refuse).
 */
export function nodeTarget(seed: Target, node: ClusterNode): Target | string {
  if (node.flags.includes('noaddr')) return 'flagged noaddr';
  if (node.flags.includes('handshake')) return 'still in handshake';
  // A node that never met another may not know its own IP: the seed's host is how we reach it.
  const host = node.host === '' && node.myself ? seed.host : node.host;
  if (host === '' || node.port === 0) return 'no address announced';
  const written = host.includes(':') ? `[${host}]` : host;
  try {
    return parseTarget(`${seed.scheme}://${written}:${node.port}`);
  } catch (error) {
    if (error instanceof InvalidTargetError) return error.message;
    throw error;
  }
}
