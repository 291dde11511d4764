import type { Redis } from 'ioredis';

/** How long close() lets the owners' last writes run before it drops the connection. */
const CLOSE_GRACE_MS = 500;

/**
 * The client's own connection to the master for its bookkeeping (hot-key
 * reports, warming status and usage records): a duplicate of the app's
 * writer, opened on first use, never instrumented (its commands are not app
 * traffic and must not count as accesses or show in the app's metrics), and
 * without an offline queue, since a report that cannot go out now is stale by
 * the next one. One per client, shared by everything that writes such records.
 */
export class SideConnection {
  private connection: Redis | undefined;
  private readonly finals: ((redis: Redis) => Promise<unknown>)[] = [];
  private closed = false;

  constructor(private readonly writer: Redis) {}

  /** The connection, opened on first use; undefined once closed. */
  get(): Redis | undefined {
    if (this.closed) return undefined;
    if (this.connection === undefined) {
      // Not the app's key prefix, db or lazy connect: the records live at fixed names in db 0,
      // where the exporter reads them, and are written from the start.
      this.connection = this.writer.duplicate({
        connectionName: 'redscope-side',
        keyPrefix: '',
        db: 0,
        lazyConnect: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        // A half-open socket must not hold a record write forever.
        commandTimeout: 2000,
      });
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
  atClose(write: (redis: Redis) => Promise<unknown>): void {
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
