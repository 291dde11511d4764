/**
 * The per-service variable files of deploy/railway/ (`ha/*.env`, `single/*.env`):
 * one `KEY=VALUE` per line, values possibly holding Railway reference
 * variables (`${{shared.NAME}}`, `${{service.RAILWAY_PRIVATE_DOMAIN}}`). Read by
 * issue-certificates.ts (which services need which certificate) and by the
 * tests, which resolve the references the way Railway would.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** A Railway service of a layout: its name (the file's stem) and its variables. */
export interface RailwayService {
  readonly name: string;
  readonly variables: ReadonlyMap<string, string>;
  /** `master`, `replica` or `sentinel` for the Redis image; undefined for clients (exporter, app). */
  readonly role: string | undefined;
}

/** A variable file that cannot be used; the message names the file and line. */
export class RailwayVariablesError extends Error {
  override readonly name = 'RailwayVariablesError';
}

/** Parses a `.env` file of this folder: comments and blank lines are skipped, nothing is quoted. */
export function parseVariables(text: string, origin: string): Map<string, string> {
  const variables = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) {
      throw new RailwayVariablesError(`${origin}:${index + 1}: expected NAME=value, got "${line}"`);
    }
    // Railway's raw editor and `railway variable set` would keep quotes as part of the value.
    if (/^["']/.test(match[2]) || /\s/.test(match[2])) {
      throw new RailwayVariablesError(
        `${origin}:${index + 1}: ${match[1]} must be unquoted and without spaces`,
      );
    }
    if (variables.has(match[1])) {
      throw new RailwayVariablesError(`${origin}:${index + 1}: ${match[1]} is set twice`);
    }
    variables.set(match[1], match[2]);
  });
  return variables;
}

/** The services of a layout folder (`deploy/railway/ha`), sorted by name. */
export function layoutServices(dir: string): RailwayService[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.env'))
    .sort()
    .map((file) => {
      const path = join(dir, file);
      const variables = parseVariables(readFileSync(path, 'utf8'), path);
      return { name: basename(file, '.env'), variables, role: variables.get('REDSCOPE_ROLE') };
    });
}

/** What Railway would substitute: shared variables and other services' variables. */
export interface ReferenceContext {
  readonly shared: Readonly<Record<string, string>>;
  /** A service's variable, e.g. RAILWAY_PRIVATE_DOMAIN; undefined when Railway has none. */
  readonly serviceVariable: (service: string, name: string) => string | undefined;
}

/**
 * Replaces every `${{NAMESPACE.NAME}}` as Railway's template syntax does. A
 * reference to a service or shared variable that does not exist throws,
 * naming it: Railway would leave it empty and the service would start broken.
 */
export function resolveReferences(
  value: string,
  context: ReferenceContext,
  origin: string,
): string {
  return value.replace(/\$\{\{\s*([^.}\s]+)\.([A-Za-z0-9_]+)\s*\}\}/g, (_all, space, name) => {
    const resolved =
      space === 'shared' ? context.shared[name] : context.serviceVariable(space, name);
    if (resolved === undefined) {
      throw new RailwayVariablesError(`${origin}: \${{${space}.${name}}} refers to nothing`);
    }
    return resolved;
  });
}
