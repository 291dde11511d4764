import bcrypt from 'bcryptjs';
import type { SessionRecord } from '../client/index.js';

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

/**
 * The demo's stand-in for the database of record: password hashes and live
 * sessions. The session cache calls `findSession` on a miss.
 */
export class DemoDatabase {
  private readonly hashes = new Map<string, { hash: string; user: DemoUser }>();
  private readonly sessions = new Map<string, SessionRecord>();

  static async create(users: readonly DemoUser[]): Promise<DemoDatabase> {
    const database = new DemoDatabase();
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

  saveSession(sessionId: string, session: SessionRecord): void {
    this.sessions.set(sessionId, session);
  }

  deleteSession(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  async findSession(sessionId: string): Promise<SessionRecord | null> {
    // A database round trip, roughly.
    await new Promise((resolve) => setTimeout(resolve, 2));
    return this.sessions.get(sessionId) ?? null;
  }
}
