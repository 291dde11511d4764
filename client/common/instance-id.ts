import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';

/** How a process names itself in the records it writes to Redis (hot-key reports, warming status). */
export interface ProcessIdentity {
  readonly service: string;
  /** `<service>@<hostname>:<pid>`: unique per process, readable on a dashboard. */
  readonly instance: string;
}

const SERVICE = /^[\w.-]{1,64}$/;

/**
 * The identity of this process from a configured service name, else
 * `OTEL_SERVICE_NAME`, else `app`. A bad name throws ConfigError on `option`.
 *
 * ```ts
 * processIdentity('hotKeys.report.service', 'checkout'); // { service: 'checkout', instance: 'checkout@web-1:4242' }
 * ```
 */
export function processIdentity(
  option: string,
  configured: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ProcessIdentity {
  const service = configured ?? env.OTEL_SERVICE_NAME ?? 'app';
  if (!SERVICE.test(service)) {
    throw new ConfigError(
      option,
      `must be 1-64 characters of letters, digits, ".", "_" or "-", got ${JSON.stringify(service)}`,
    );
  }
  return { service, instance: `${service}@${hostname()}:${process.pid}` };
}
