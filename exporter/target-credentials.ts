import type { ExporterConfig, RedisAuth } from './config.js';
import { resolveSentinelMaster } from './sentinel-master.js';
import type { Target } from './target.js';
import type { TargetPool } from './target-pool.js';

/** A target and the credentials a connection to it logs in with: what the pool keys connections by. */
export interface TargetAccess {
  readonly target: Target;
  readonly auth: RedisAuth;
}

type CredentialsConfig = Pick<
  ExporterConfig,
  'redisTarget' | 'sentinels' | 'masterName' | 'redisAuth' | 'credentials'
>;

/**
 * Which credentials each connection carries, decided from the endpoint that
 * asks, never from what another endpoint did before:
 *
 * - /metrics: the --redis-url target with its entry in the credentials (config
 *   puts --username and the password first there), or the master the
 *   Sentinels name at this scrape with --username and the password;
 * - /scrape and the Sentinels: only what the credentials file names for the
 *   address. A Sentinel naming an address its master does not lend /scrape of
 *   that address the /metrics password.
 */
export class TargetCredentials {
  constructor(
    private readonly config: CredentialsConfig,
    private readonly pool: TargetPool,
  ) {}

  /** A target named by /scrape, or a Sentinel. */
  forAddress(target: Target): TargetAccess {
    return { target, auth: this.config.credentials.for(target) };
  }

  /**
   * What /metrics scrapes now, asking the Sentinels within `deadline`;
   * undefined when neither --redis-url nor Sentinels are configured. Rejects
   * when no Sentinel names the master.
   */
  async forMetrics(deadline: number, budgetMs: number): Promise<TargetAccess | undefined> {
    const { redisTarget, sentinels, masterName, redisAuth } = this.config;
    if (redisTarget) return this.forAddress(redisTarget);
    if (sentinels.length === 0 || !masterName) return undefined;
    const master = await resolveSentinelMaster({
      masterName,
      sentinels: sentinels.map((sentinel) => this.forAddress(sentinel)),
      pool: this.pool,
      deadline,
      budgetMs,
    });
    return { target: master, auth: redisAuth };
  }
}
