import bcrypt from 'bcryptjs';
import type { SessionRecord } from '../client/index.js';
import {
  DirectorySessionStore,
  MemorySessionStore,
  type SessionStore,
  sessionHash,
} from './session-store.js';

/** A demo account: `user-7` / `password-7`, in one of ten orgs. */
export interface DemoUser {
  readonly username: string;
  readonly password: string;
  readonly userId: string;
  readonly orgId: string;
}

export function demoUsers(count: number): DemoUser[] {
  return Array.from({ length: count }, (_, i) => ({
    username: `user-${i}`,
    password: `password-${i}`,
    userId: `u-${i}`,
    orgId: `org-${i % 10}`,
  }));
}

/** A database round trip, roughly: one per query, whatever the rows it returns. */
export const DATABASE_ROUND_TRIP_MS = 2;
const roundTrip = () => new Promise((resolve) => setTimeout(resolve, DATABASE_ROUND_TRIP_MS));

/**
 * The demo's stand-in for the database of record: password hashes, and live
 * sessions stored by the hash of their token (in memory, or in a folder that
 * outlives the process and that `redscope warm` can read). The session cache
 * calls `findSession` on a miss, and its warmer `findSessionsByHash`.
 */
export class DemoDatabase {
  private readonly hashes = new Map<string, { hash: string; user: DemoUser }>();

  private constructor(private readonly sessions: SessionStore) {}

  /** `options.dir`: keep the sessions there (one file each); default in memory. */
  static async create(
    users: readonly DemoUser[],
    options: { readonly dir?: string } = {},
  ): Promise<DemoDatabase> {
    const database = new DemoDatabase(
      options.dir === undefined ? new MemorySessionStore() : new DirectorySessionStore(options.dir),
    );
    // Cost 4 keeps start-up fast; a real service would use 10 or more.
    for (const user of users) {
      database.hashes.set(user.username, { hash: await bcrypt.hash(user.password, 4), user });
    }
    return database;
  }

  async checkPassword(username: string, password: string): Promise<DemoUser | undefined> {
    const entry = this.hashes.get(username);
    if (!entry) return undefined;
    return (await bcrypt.compare(password, entry.hash)) ? entry.user : undefined;
  }

  async saveSession(sessionId: string, session: SessionRecord): Promise<void> {
    await this.sessions.put(sessionHash(sessionId), session);
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.sessions.delete(sessionHash(sessionId));
  }

  async findSession(sessionId: string): Promise<SessionRecord | null> {
    await roundTrip();
    return (await this.sessions.get(sessionHash(sessionId))) ?? null;
  }

  /** The sessions of these token hashes that exist, in one query (the warmer's batches). */
  async findSessionsByHash(hashes: readonly string[]): Promise<Map<string, SessionRecord>> {
    await roundTrip();
    const found = new Map<string, SessionRecord>();
    const rows = await Promise.all(hashes.map((hash) => this.sessions.get(hash)));
    rows.forEach((session, i) => {
      if (session !== undefined) found.set(hashes[i] as string, session);
    });
    return found;
  }
}
