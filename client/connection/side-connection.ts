import type { Cluster, Redis } from 'ioredis';
import { isCluster } from '../common/cluster-routing.js';

/** How long close() lets the owners' last writes run before it drops the connection. */
const CLOSE_GRACE_MS = 500;

/** The records connection: a Redis, or for a cluster writer a Cluster (records route by slot). */
export type RecordsConnection = Redis | Cluster;

/**
 * The client's own connection to the master for its bookkeeping (hot-key
 * reports, warming status and usage records): a duplicate of the app's
 * writer, opened on first use, never instrumented (its commands are not app
 * traffic and must not count as accesses or show in the app's metrics), and
 * without an offline queue, since a report that cannot go out now is stale by
 * the next one. One per client, shared by everything that writes such records.
 * On a cluster it is a second Cluster: each record family keeps its keys in
 * one hash slot (`redscope:{hotkeys}…`, `redscope:{warming}…`), so their
 * transactions run on whichever master serves that slot.
 */
export class SideConnection {
  private connection: RecordsConnection | undefined;
  private readonly finals: ((redis: RecordsConnection) => Promise<unknown>)[] = [];
  private closed = false;

  constructor(private readonly writer: RecordsConnection) {}

  /** The connection, opened on first use; undefined once closed. */
  get(): RecordsConnection | undefined {
    if (this.closed) return undefined;
    if (this.connection === undefined) {
      this.connection = duplicateForRecords(this.writer);
      // Failures show where the records are written (counted, logged there).
      this.connection.on('error', () => undefined);
    }
    return this.connection;
  }

  /** Whether a command sent now would go out. */
  get ready(): boolean {
    return this.connection?.status === 'ready';
  }

  /** A last write to make at close (removing this process's records), if the connection is up. */
  atClose(write: (redis: RecordsConnection) => Promise<unknown>): void {
    this.finals.push(write);
  }

  /** Runs the last writes (half a second at most), then drops the connection. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const connection = this.connection;
    if (connection === undefined) return;
    if (connection.status !== 'ready') {
      connection.disconnect();
      return;
    }
    const grace = setTimeout(() => connection.disconnect(), CLOSE_GRACE_MS);
    grace.unref();
    Promise.allSettled(this.finals.map((write) => write(connection))).finally(() => {
      clearTimeout(grace);
      connection.disconnect();
    });
  }
}

/** A half-open socket must not hold a record write forever. */
const RECORD_COMMAND_TIMEOUT_MS = 2000;

function duplicateForRecords(writer: RecordsConnection): RecordsConnection {
  // Not the app's key prefix, db or lazy connect: the records live at fixed names in db 0,
  // where the exporter reads them, and are written from the start.
  return ownDuplicate(writer, {
    connectionName: 'redscope-side',
    db: 0,
    commandTimeout: RECORD_COMMAND_TIMEOUT_MS,
  });
}

/**
 * A connection of the client's own, made from the app's writer (a Redis, or
 * a Cluster with its seeds, TLS and user): no key prefix, connected at once,
 * no offline queue and no retries (what cannot go out now is retried by its
 * owner, or stale by then), never instrumented.
 */
export function ownDuplicate(
  writer: RecordsConnection,
  settings: {
    readonly connectionName: string;
    readonly db?: number;
    readonly commandTimeout?: number;
  },
): RecordsConnection {
  const { connectionName, db, commandTimeout } = settings;
  if (isCluster(writer)) {
    // Cluster#duplicate merges these over the app's own options (seeds, TLS, user, natMap).
    return writer.duplicate([], {
      keyPrefix: '',
      lazyConnect: false,
      enableOfflineQueue: false,
      redisOptions: {
        ...writer.options.redisOptions,
        connectionName,
        maxRetriesPerRequest: 0,
        ...(commandTimeout === undefined ? {} : { commandTimeout }),
      },
    });
  }
  return writer.duplicate({
    connectionName,
    keyPrefix: '',
    ...(db === undefined ? {} : { db }),
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    ...(commandTimeout === undefined ? {} : { commandTimeout }),
  });
}
