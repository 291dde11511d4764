/**
 * A Railway layout of deploy/railway/ (`ha` or `single`) brought to this
 * machine: sample shared variables, references resolved the way Railway would,
 * certificates from issue-certificates.ts, and the real entrypoint run per
 * service, either to render its configs or (through `env ... sh entrypoint.sh`)
 * as the process Railway would start.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type IssuedSet,
  issueRailwayCertificates,
  railwayPrivateDomain,
} from '../../../deploy/railway/issue-certificates.js';
import {
  layoutServices,
  type RailwayService,
  resolveReferences,
} from '../../../deploy/railway/railway-variables.js';
import { type AclPasswords, generatePasswords } from '../../../stack/acl.js';
import { SupervisedProcess } from '../../../stack/processes.js';
import { packageRoot, sentinelConfigDir } from '../../../stack/repo-paths.js';

const run = promisify(execFile);

export const RAILWAY_DIR = join(packageRoot(), 'deploy', 'railway');
export const ENTRYPOINT = join(RAILWAY_DIR, 'entrypoint.sh');
export type LayoutName = 'ha' | 'single';

/** The shared variables README.md tells the operator to create, with sample values. */
export function sharedVariables(passwords: AclPasswords, caFile: string): Record<string, string> {
  return {
    REDSCOPE_PASSWORD_ADMIN: passwords.admin,
    REDSCOPE_PASSWORD_APP: passwords.app,
    REDSCOPE_PASSWORD_EXPORTER: passwords.exporter,
    REDSCOPE_PASSWORD_REPLICA: passwords.replica,
    REDSCOPE_PASSWORD_SENTINEL: passwords.sentinel,
    REDSCOPE_TLS_CA_B64: readFileSync(caFile).toString('base64'),
  };
}

export interface Layout {
  readonly name: LayoutName;
  readonly services: readonly RailwayService[];
  readonly passwords: AclPasswords;
  readonly certificates: IssuedSet;
  readonly shared: Record<string, string>;
  /** The private domain each service announces (Railway's pattern, or `localhost` on loopback). */
  readonly domainOf: (service: string) => string;
  service(name: string): RailwayService;
  /**
   * A service's variables as its container sees them: the file's references
   * resolved, the per-service certificate variables set as README.md step 4
   * does, and what Railway provides (RAILWAY_PRIVATE_DOMAIN).
   */
  env(name: string, extra?: Record<string, string>): Record<string, string>;
}

export async function loadLayout(
  name: LayoutName,
  certDir: string,
  options: {
    domainOf?: (service: string) => string;
    extraNames?: Record<string, string[]>;
  } = {},
): Promise<Layout> {
  const services = layoutServices(join(RAILWAY_DIR, name));
  const domainOf = options.domainOf ?? railwayPrivateDomain;
  const certificates = await issueRailwayCertificates({
    out: certDir,
    services,
    privateDomainOf: domainOf,
    ...(options.extraNames ? { extraNames: options.extraNames } : {}),
  });
  const passwords = generatePasswords();
  const shared = sharedVariables(passwords, certificates.caFile);
  const names = new Set(services.map((s) => s.name));
  const service = (serviceName: string): RailwayService => {
    const found = services.find((s) => s.name === serviceName);
    if (!found) throw new Error(`layout ${name} has no service ${serviceName}`);
    return found;
  };
  return {
    name,
    services,
    passwords,
    certificates,
    shared,
    domainOf,
    service,
    env(serviceName, extra = {}) {
      const context = {
        shared,
        serviceVariable: (space: string, variable: string) =>
          names.has(space) && variable === 'RAILWAY_PRIVATE_DOMAIN' ? domainOf(space) : undefined,
      };
      const out: Record<string, string> = {};
      for (const [key, value] of service(serviceName).variables) {
        out[key] = resolveReferences(value, context, `${name}/${serviceName}.env ${key}`);
      }
      const issued = certificates.files.find((f) => f.service === serviceName);
      if (issued) {
        out.REDSCOPE_TLS_CERT_B64 = readFileSync(issued.certFile).toString('base64');
        out.REDSCOPE_TLS_KEY_B64 = readFileSync(issued.keyFile).toString('base64');
      }
      return { RAILWAY_PRIVATE_DOMAIN: domainOf(serviceName), ...out, ...extra };
    },
  };
}

/** Where the entrypoint keeps a service's files on this machine (its "volume" and run folder). */
// A type alias, not an interface: it then passes where variables (Record<string, string>) go.
export type LocalDirs = {
  readonly REDSCOPE_DATA_DIR: string;
  readonly REDSCOPE_RUN_DIR: string;
  readonly REDSCOPE_TEMPLATES: string;
};

export function localDirs(root: string, service: string): LocalDirs {
  return {
    REDSCOPE_DATA_DIR: join(root, service, 'data'),
    REDSCOPE_RUN_DIR: join(root, service, 'run'),
    REDSCOPE_TEMPLATES: sentinelConfigDir(),
  };
}

export interface RenderResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the entrypoint with REDSCOPE_RENDER_ONLY=1: the configs are written, nothing starts. */
export async function renderService(env: Record<string, string>): Promise<RenderResult> {
  try {
    const { stdout, stderr } = await run('sh', [ENTRYPOINT], {
      env: { PATH: process.env.PATH ?? '', ...env, REDSCOPE_RENDER_ONLY: '1' },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failure.code === 'number' ? failure.code : -1,
      stdout: failure.stdout ?? '',
      stderr: failure.stderr ?? '',
    };
  }
}

/**
 * The service as Railway starts it: the entrypoint, which renders and then
 * execs redis-server or redis-sentinel (so stopping this process stops Redis).
 */
export function serviceProcess(
  name: string,
  env: Record<string, string>,
  outputFile: string,
): SupervisedProcess {
  const assignments = Object.entries(env).map(([key, value]) => `${key}=${value}`);
  return new SupervisedProcess({
    name,
    command: 'env',
    args: [...assignments, 'sh', ENTRYPOINT],
    outputFile,
  });
}
