import { parseTarget, type Target } from './target.js';
import type { TargetAccess } from './target-credentials.js';
import { type TargetPool, withDeadline } from './target-pool.js';

/** One question to the Sentinels: where is the master of `masterName` now. */
export interface MasterQuery {
  readonly masterName: string;
  /** Asked in order, each over the pool's connection with its own credentials. */
  readonly sentinels: readonly TargetAccess[];
  readonly pool: TargetPool;
  /** When the answer must be in (ms since epoch). */
  readonly deadline: number;
  /** The scrape's whole budget, for the timeout's message. */
  readonly budgetMs: number;
}

/**
 * The master's address as the first Sentinel that knows it gives it, with the
 * Sentinels' scheme (a TLS Sentinel setup is TLS throughout). Asked on every
 * /metrics scrape, so a failover shows on the next one; nothing is remembered.
 * Rejects with the last Sentinel's error when none answers.
 */
export async function resolveSentinelMaster(query: MasterQuery): Promise<Target> {
  const { masterName, sentinels, pool, deadline, budgetMs } = query;
  let lastError: unknown;
  for (const [index, sentinel] of sentinels.entries()) {
    // A hung Sentinel may take its share of the budget, not the others' too.
    const share = Math.max(50, (deadline - Date.now()) / (sentinels.length - index));
    const until = Math.min(deadline, Date.now() + share);
    try {
      const client = await pool.get(sentinel).ready(until, budgetMs);
      const reply = (await withDeadline(
        client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName),
        until,
        budgetMs,
      )) as [string, string] | null;
      if (reply) {
        const host = reply[0].includes(':') ? `[${reply[0]}]` : reply[0];
        return parseTarget(`${sentinel.target.scheme}://${host}:${reply[1]}`);
      }
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError ?? new Error(`no Sentinel knows the master ${masterName}`);
}
