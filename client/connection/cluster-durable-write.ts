import {
  type ChainableCommander,
  type Cluster,
  type Command,
  type Redis,
  ReplyError,
} from 'ioredis';
import { dialledKey, hashSlot, nodeKey, slotMasterKey } from '../common/cluster-routing.js';
import { ConfigError, DurableWriteError } from '../errors.js';
import {
  checkedOptions,
  closeCounter,
  type DurableWriteOptions,
  type DurableWriteResult,
  replicaCount,
  unknownOutcome,
} from './durable-write.js';

/**
 * Durable writes on a Redis Cluster: the commands `write` queues run as one
 * MULTI/EXEC on the master of their slot, followed by `WAIT replicas
 * timeoutMs` on the same connection, in one pipeline (one socket write, so
 * no command of the app can come in between).
 *
 * What protects an acknowledged write when its master dies. Sentinel mode
 * has a fence (failover-fence.ts): the client hears the Sentinels agree on a
 * failover and refuses to confirm writes that raced it. A cluster has no such
 * outside voice the client could subscribe to; what protects instead is WAIT
 * plus the way the cluster elects a master: only a replica of the failed
 * master can take its slots, and a replica ranks itself for the election by
 * its replication offset (the most up-to-date replica asks first, the others
 * wait a delay per rank). So a write that WAIT says reached `replicas`
 * replicas survives a kill -9 of the master when the replica promoted is one
 * that acknowledged it. With one replica per shard (the shipped layout)
 * that is always the case: the only replica is the one promoted. With more
 * replicas per shard it holds only when `replicas` covers all of them
 * (`replicas: 'all'`): the rank favours, but does not guarantee, the most
 * up-to-date one (a replica whose link to the dead master was already down
 * for longer than `cluster-replica-validity-factor` allows does not stand,
 * but one that lags a little may still win). Writes acknowledged by fewer
 * replicas are as safe as those replicas' chances. A manual `CLUSTER
 * FAILOVER` waits for the replica to catch up first and loses nothing;
 * `CLUSTER FAILOVER FORCE`/`TAKEOVER` can lose writes WAIT acknowledged on
 * another replica, like SENTINEL FAILOVER.
 *
 * Redirects are followed only while nothing can have been written: a MOVED,
 * ASK, TRYAGAIN or CLUSTERDOWN answer to a queued command aborts the
 * transaction (EXECABORT), so the write is tried again on the node the
 * cluster names (ASKING first, for a slot being migrated), within the
 * writer's command timeout. `write` is then called again: it must only
 * queue commands. So is a node connection that closes before it was ever
 * ready (a slot refresh during a failover can still name the dead master,
 * and ioredis makes node connections lazily): nothing was sent on it.
 */
export async function writeDurablyOnCluster(
  cluster: Cluster,
  write: (pipeline: ChainableCommander) => unknown,
  options: DurableWriteOptions,
): Promise<DurableWriteResult> {
  const budgetMs = cluster.options.redisOptions?.commandTimeout ?? DEFAULT_BUDGET_MS;
  // allowWithoutSentinels has nothing to allow here: there are no Sentinels to hear.
  const { wanted, timeoutMs } = checkedOptions(options, budgetMs);
  const slot = slotOfWrite(cluster, write);
  const deadline = performance.now() + budgetMs;
  let asking: string | undefined;
  for (;;) {
    const node = await nodeFor(cluster, slot, asking, deadline, timeoutMs);
    if (!(await connected(node, deadline))) {
      if (performance.now() >= deadline) throw notWritten(wanted === 'all' ? 0 : wanted, timeoutMs);
      asking = undefined;
      await refreshed(cluster, deadline);
      continue;
    }
    const replicas = wanted === 'all' ? await replicaCount(node, timeoutMs) : wanted;
    const attempt = await runOnce(node, write, asking !== undefined, replicas, timeoutMs);
    if (attempt.kind === 'done') return attempt.result;
    if (performance.now() >= deadline) throw notWritten(replicas, timeoutMs);
    asking = attempt.kind === 'ask' ? attempt.to : undefined;
    if (attempt.kind === 'moved') await refreshed(cluster, deadline);
    if (attempt.kind === 'wait') await sleep(RETRY_DELAY_MS, deadline);
  }
}

/** Without a command timeout on the node connections: how long redirects are followed. */
const DEFAULT_BUDGET_MS = 2000;
/** After TRYAGAIN (a multi-key write mid-migration) or CLUSTERDOWN: ioredis' own retry delay. */
const RETRY_DELAY_MS = 100;

type Attempt =
  | { readonly kind: 'done'; readonly result: DurableWriteResult }
  | { readonly kind: 'moved' }
  | { readonly kind: 'ask'; readonly to: string }
  | { readonly kind: 'wait' };

/**
 * Whether `node` is (or becomes, before `deadline`) ready for commands; a
 * lazily made node connection (status `wait`) is connected here. False when
 * it closes or the time runs out first: nothing was sent on it. Only a
 * connection that was ready gets the transaction, so a close after that is
 * `unknown` for a reason, never by default.
 */
function connected(node: Redis, deadline: number): Promise<boolean> {
  if (node.status === 'ready') return Promise.resolve(true);
  if (node.status === 'end' || node.status === 'close') return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (ready: boolean) => {
      clearTimeout(timer);
      node.off('ready', onReady);
      node.off('close', onClose);
      node.off('end', onClose);
      resolve(ready);
    };
    const onReady = () => finish(true);
    const onClose = () => finish(false);
    const timer = setTimeout(onClose, Math.max(0, deadline - performance.now()));
    node.on('ready', onReady);
    node.on('close', onClose);
    node.on('end', onClose);
    // Its error reaches the Cluster's `node error` listeners; the close is what counts here.
    if (node.status === 'wait') node.connect().catch(() => undefined);
  });
}

/** ASKING?, MULTI, the write, EXEC, WAIT: one pipeline on `node`. */
async function runOnce(
  node: Redis,
  write: (pipeline: ChainableCommander) => unknown,
  asking: boolean,
  replicas: number,
  timeoutMs: number,
): Promise<Attempt> {
  const counter = closeCounter(node);
  const closesBefore = counter.count;
  const pipeline = node.pipeline();
  if (asking) pipeline.asking();
  transaction(pipeline).multi();
  write(pipeline);
  transaction(pipeline).exec();
  pipeline.wait(replicas, timeoutMs);
  const unknown = (acknowledged = 0, cause?: unknown) =>
    unknownOutcome({ required: replicas, timeoutMs }, 'connection-changed', acknowledged, cause);
  let replies: [Error | null, unknown][] | null;
  try {
    replies = await pipeline.exec();
  } catch (error) {
    // A timeout or a dropped connection: Redis may or may not have run the transaction.
    throw unknown(0, error);
  }
  if (!replies) throw unknown();
  const first = asking ? 1 : 0;
  const [execError, execResult] = replies.at(-2) ?? [null, undefined];
  const [waitError, waitResult] = replies.at(-1) ?? [null, undefined];
  if (execError !== null) {
    if (!/^EXECABORT\b/.test(execError.message)) throw unknown(0, execError);
    // Aborted: nothing ran. The first command that failed to queue says why.
    const queued = replies.slice(first + 1, -2).find(([error]) => error !== null)?.[0];
    const redirect = queued ? redirectOf(queued) : undefined;
    if (redirect !== undefined) return redirect;
    throw queued ?? execError;
  }
  if (counter.count !== closesBefore) throw unknown();
  if (!Array.isArray(execResult)) throw unknown(0, new Error('EXEC answered without results'));
  for (const result of execResult) if (result instanceof ReplyError) throw result;
  if (waitError !== null) throw unknown(0, waitError);
  const acknowledged = Number(waitResult);
  if (!(acknowledged >= replicas)) {
    throw unknownOutcome({ required: replicas, timeoutMs }, 'not-acknowledged', acknowledged);
  }
  return { kind: 'done', result: { acknowledged, results: execResult } };
}

/**
 * MULTI and EXEC inside a pipeline, as ioredis' Pipeline has them but its
 * type does not say: `multi()` opens a transaction in the batch, and
 * `exec()` while one is open queues EXEC (and returns the pipeline) instead
 * of sending the batch.
 */
function transaction(pipeline: ChainableCommander): { multi(): unknown; exec(): unknown } {
  return pipeline as unknown as { multi(): unknown; exec(): unknown };
}

/** What a queueing error of the cluster asks for, or undefined when it is the command's own. */
function redirectOf(error: Error): Attempt | undefined {
  const [kind, , to] = error.message.split(' ');
  if (kind === 'MOVED') return { kind: 'moved' };
  if (kind === 'ASK' && to !== undefined) return { kind: 'ask', to };
  if (kind === 'TRYAGAIN' || kind === 'CLUSTERDOWN') return { kind: 'wait' };
  return undefined;
}

/**
 * The one hash slot of every key `write` queues (queued on a throwaway
 * pipeline that is never sent). ConfigError before anything is sent when
 * the keys span slots (CROSSSLOT) or there is no key to route by. Key names
 * stay out of the message: the caller may log it.
 */
function slotOfWrite(cluster: Cluster, write: (pipeline: ChainableCommander) => unknown): number {
  const probe = cluster.pipeline();
  write(probe);
  // ioredis keeps the queued commands private; they are read, never sent.
  const queued = (probe as unknown as { _queue: Command[] })._queue;
  if (queued.length === 0) throw new ConfigError('write', 'queued no command');
  const slots = new Set<number>();
  let keys = 0;
  for (const command of queued) {
    for (const key of command.getKeys()) {
      keys += 1;
      slots.add(hashSlot(key));
    }
  }
  if (slots.size === 0) {
    throw new ConfigError(
      'write',
      'queued no key: on a cluster a durable write runs on the master of its keys’ hash slot, so it needs at least one key',
    );
  }
  if (slots.size > 1) {
    throw new ConfigError(
      'write',
      `CROSSSLOT: its ${keys} keys hash to ${slots.size} slots (${[...slots].sort((a, b) => a - b).join(', ')}); a durable write runs as one transaction on one shard, so give the keys a common hash tag ({user:42}:profile, {user:42}:sessions)`,
    );
  }
  return [...slots][0] as number;
}

/**
 * The connection to the master of `slot` (or, after an ASK, to the node
 * named), once the cluster is ready: its slot map names the node, its
 * connection pool holds the connection. Waits (bounded by `deadline`) while
 * the cluster is not ready or has no master for the slot: a failover is
 * under way, nothing has been sent.
 */
async function nodeFor(
  cluster: Cluster,
  slot: number,
  asking: string | undefined,
  deadline: number,
  timeoutMs: number,
): Promise<Redis> {
  for (;;) {
    if (cluster.status === 'ready') {
      // Both through the natMap: an ASK names the announced address, and so may the slot map.
      const key = asking === undefined ? slotMasterKey(cluster, slot) : dialledKey(cluster, asking);
      const node =
        key === undefined ? undefined : cluster.nodes('all').find((n) => nodeKey(n) === key);
      if (node !== undefined && node.status !== 'end') return node;
    }
    if (performance.now() >= deadline) throw notWritten(0, timeoutMs);
    await refreshed(cluster, deadline);
    await sleep(RETRY_DELAY_MS, deadline);
  }
}

/** The cluster has no master for the slot within the time allowed: nothing was sent. */
function notWritten(required: number, timeoutMs: number): DurableWriteError {
  return new DurableWriteError({ reason: 'failover', outcome: 'not-written', required, timeoutMs });
}

/** Re-reads the slot map (bounded by `deadline`); a failed refresh is just another try. */
function refreshed(cluster: Cluster, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
    timer.unref();
    cluster.refreshSlotsCache(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function sleep(ms: number, deadline: number): Promise<void> {
  const wait = Math.max(0, Math.min(ms, deadline - performance.now()));
  return new Promise((resolve) => setTimeout(resolve, wait).unref());
}
