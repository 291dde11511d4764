import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionRecord } from '../client/index.js';

/**
 * Where the demo's database keeps live sessions: by the SHA-256 (hex) of the
 * token, never the token itself, as an app that stores hashed tokens does. A
 * leaked table then opens no session, and the session cache's keys
 * (`<prefix>session:<sha256 of the id>`) name the rows directly, which is
 * what lets the warmer load sessions by key.
 */
export interface SessionStore {
  get(hash: string): Promise<SessionRecord | undefined>;
  put(hash: string, session: SessionRecord): Promise<void>;
  delete(hash: string): Promise<void>;
}

/** The hex SHA-256 of a session token: the row id in the database, and the end of its cache key. */
export function sessionHash(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex');
}

const HASH = /^[0-9a-f]{64}$/;

/** Whether `text` is a session hash: anything else never names a file. */
export function isSessionHash(text: string): boolean {
  return HASH.test(text);
}

export class MemorySessionStore implements SessionStore {
  private readonly rows = new Map<string, SessionRecord>();

  async get(hash: string): Promise<SessionRecord | undefined> {
    return this.rows.get(hash);
  }

  async put(hash: string, session: SessionRecord): Promise<void> {
    this.rows.set(hash, session);
  }

  async delete(hash: string): Promise<void> {
    this.rows.delete(hash);
  }
}

/**
 * One JSON file per session, named by its hash, in a folder that outlives
 * the process: another process (`redscope warm --loader
 * dist/demo/session-loader.js`) reads the same rows, and a restarted demo
 * finds its sessions again.
 */
export class DirectorySessionStore implements SessionStore {
  private writes = 0;

  /** Creates the folder; throws (ENOTDIR, EACCES...) when it cannot be one. */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  }

  async get(hash: string): Promise<SessionRecord | undefined> {
    if (!isSessionHash(hash)) return undefined;
    try {
      return JSON.parse(await readFile(join(this.dir, `${hash}.json`), 'utf8')) as SessionRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async put(hash: string, session: SessionRecord): Promise<void> {
    if (!isSessionHash(hash)) throw new Error('not a session hash');
    // Written aside, then renamed: a reader never sees half a row.
    const aside = join(this.dir, `.${hash}.${process.pid}.${this.writes++}.tmp`);
    await writeFile(aside, JSON.stringify(session), { mode: 0o600 });
    await rename(aside, join(this.dir, `${hash}.json`));
  }

  async delete(hash: string): Promise<void> {
    if (!isSessionHash(hash)) return;
    await unlink(join(this.dir, `${hash}.json`)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
