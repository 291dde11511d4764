import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { warmingUsageKey } from '../client/common/warming-status.js';
import { createSessionCache, type Logger, type RedisClients } from '../client/index.js';
import { sessionNamespace } from './defaults.js';
import type { DemoDatabase, DemoUser } from './users.js';

/** Sessions made and replayed at once: the database folder and Redis see short bursts. */
const CHUNK = 32;
/** How long the previous process's last flush may take to show in the record. */
const RECORD_WAIT_MS = 5000;

export interface ReturningSessions {
  /** How many sessions of returning users to open. */
  readonly count: number;
  /**
   * Clients on the app's Redis that record the usage of the session
   * namespace with every command sampled (`usage: { namespaces:
   * [sessionNamespace(keyPrefix)], sampleRate: 1 }`), and nothing else: the
   * previous process of the app. Closed here, which hands their record to Redis.
   */
  readonly recorder: RedisClients<Redis | Cluster>;
}

/**
 * An app restarted in front of a cold cache: its users' sessions are in the
 * database, the usage record the previous process left in Redis ranks them,
 * and the cache lost them. Opens `count` sessions for the demo accounts in
 * the database, replays one validation of each through `recorder` (whose
 * close flushes what it recorded), and waits until the record shows them,
 * so the session cache's start-up warming has them to warm. Returns their
 * tokens, for the load to come back with.
 *
 * The replay's loader finds nothing on purpose: it must not put the sessions
 * back in the cache, which is the warming's job (and a miss's, for the ones
 * the load reaches first).
 */
export async function openReturningSessions(context: {
  readonly returning: ReturningSessions;
  readonly database: DemoDatabase;
  readonly accounts: readonly DemoUser[];
  readonly keyPrefix: string;
  /** The app's own clients, to see the record arrive. */
  readonly clients: RedisClients<Redis | Cluster>;
  readonly logger: Logger;
}): Promise<string[]> {
  const { returning, database, accounts, keyPrefix, clients, logger } = context;
  const recordKey = warmingUsageKey(sessionNamespace(keyPrefix));
  const tokens: string[] = [];
  try {
    const before = await clients.writer.zcard(recordKey);
    const now = Date.now();
    for (let i = 0; i < returning.count; i += CHUNK) {
      const chunk = Array.from({ length: Math.min(CHUNK, returning.count - i) }, (_, j) => {
        const account = accounts[(i + j) % accounts.length] as DemoUser;
        const token = randomBytes(32).toString('base64url');
        tokens.push(token);
        // Opened within the last ten minutes, before the restart.
        const createdAt = now - Math.floor(Math.random() * 600_000);
        return database.saveSession(token, {
          userId: account.userId,
          orgId: account.orgId,
          createdAt,
        });
      });
      await Promise.all(chunk);
    }
    const previous = createSessionCache(returning.recorder, {
      loader: async () => null,
      keyPrefix,
      tracing: { enabled: false },
    });
    for (let i = 0; i < tokens.length; i += CHUNK) {
      await Promise.all(tokens.slice(i, i + CHUNK).map((token) => previous.validate(token)));
    }
    await returning.recorder.close();
    // close() resolves before the recorder's side connection has sent its last flush.
    const deadline = performance.now() + RECORD_WAIT_MS;
    let recorded = await clients.writer.zcard(recordKey);
    while (recorded < before + tokens.length && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      recorded = await clients.writer.zcard(recordKey);
    }
    logger.info(
      {
        event: 'demo.returning_sessions',
        sessions: tokens.length,
        recorded: recorded - before,
      },
      'opened the sessions of returning users; the usage record ranks them',
    );
  } finally {
    // Already closed on the way through; a second close is a no-op.
    await returning.recorder.close();
  }
  return tokens;
}
