/**
 * The ACL users of the data nodes: per-run passwords for the launcher and the
 * rendering of `sentinel/users.acl.template` into an ACL file that holds only
 * SHA-256 hashes. `sentinel/render-secrets.sh` does the same at deploy time;
 * a test keeps the two in step.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Every user the template defines a password for. */
export const ACL_USERS = ['admin', 'app', 'exporter', 'replica', 'sentinel'] as const;
export type AclUser = (typeof ACL_USERS)[number];

/** Who does what: the names the configs in `sentinel/` use. */
export const ADMIN_USER: AclUser = 'admin';
export const REPLICATION_USER: AclUser = 'replica';
export const SENTINEL_USER: AclUser = 'sentinel';

/** The Redis user name of each ACL user (the exporter's is the one docs/metrics.md documents). */
export const USERNAMES: Readonly<Record<AclUser, string>> = {
  admin: 'admin',
  app: 'app',
  exporter: 'redscope-exporter',
  replica: 'replica',
  sentinel: 'sentinel',
};

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type AclPasswords = Readonly<Record<AclUser, string>>;

/** A template placeholder whose user has no password, or a password Redis cannot take. */
export class AclTemplateError extends Error {
  override readonly name = 'AclTemplateError';
}

/** Fresh random passwords, one per user (URL-safe: no quoting needed in redis.conf). */
export function generatePasswords(): AclPasswords {
  const entries = ACL_USERS.map((user) => [user, randomBytes(24).toString('base64url')]);
  return Object.fromEntries(entries) as Record<AclUser, string>;
}

export const sha256Hex = (password: string): string =>
  createHash('sha256').update(password, 'utf8').digest('hex');

/**
 * Renders the ACL template: drops comment lines (Redis' ACL files have none)
 * and replaces each `{{sha256:NAME}}` with the hash of NAME's password.
 */
export function renderAclFile(
  template: string,
  passwords: Readonly<Record<string, string>>,
): string {
  const lines: string[] = [];
  for (const line of template.split('\n')) {
    if (line.trimStart().startsWith('#')) continue;
    lines.push(
      line.replace(/\{\{sha256:([a-z0-9_-]+)\}\}/gi, (_match, user: string) => {
        const password = passwords[user];
        if (password === undefined || password === '') {
          throw new AclTemplateError(
            `the ACL template needs a password for user "${user}"; provide ${user}.password`,
          );
        }
        return sha256Hex(password);
      }),
    );
  }
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

/** Checks that a password can sit unquoted in redis.conf / sentinel.conf (masterauth, auth-pass). */
export function assertConfigSafePassword(user: string, password: string): void {
  if (!/^[A-Za-z0-9._~+/=-]{16,}$/.test(password)) {
    throw new AclTemplateError(
      `the password of "${user}" must be at least 16 characters of [A-Za-z0-9._~+/=-] ` +
        '(it is written unquoted into redis.conf)',
    );
  }
}
