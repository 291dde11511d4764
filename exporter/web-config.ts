import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import bcrypt from 'bcryptjs';
import { ConfigError, loadYamlFile } from './config-errors.js';

/**
 * The web config file of Prometheus' exporter-toolkit (`--web.config.file`), so
 * operators reuse what they already run for node_exporter: TLS for the HTTP
 * endpoint and basic auth users with bcrypt hashes.
 */
export interface WebConfig {
  readonly tls?: {
    cert: Buffer;
    key: Buffer;
    ca?: Buffer;
    requireClientCert: boolean;
    /** A client certificate, when one is presented, must verify against `ca`. */
    verifyClientCert: boolean;
    minVersion?: 'TLSv1.2' | 'TLSv1.3';
  };
  readonly basicAuthUsers: ReadonlyMap<string, string>;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tls_server_config: {
      type: 'object',
      additionalProperties: false,
      required: ['cert_file', 'key_file'],
      properties: {
        cert_file: { type: 'string', minLength: 1 },
        key_file: { type: 'string', minLength: 1 },
        client_ca_file: { type: 'string', minLength: 1 },
        client_auth_type: {
          enum: ['NoClientCert', 'RequireAndVerifyClientCert', 'VerifyClientCertIfGiven'],
        },
        min_version: { enum: ['TLS12', 'TLS13'] },
      },
    },
    basic_auth_users: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: '^\\$2[aby]\\$\\d\\d\\$.{53}$' },
    },
  },
} as const;

const validate = new Ajv({ strict: true }).compile(schema);

export function loadWebConfig(
  path: string,
  readFile: (path: string) => string,
  origin: string,
): WebConfig {
  const topKeys = ['tls_server_config', 'basic_auth_users'];
  const tlsKeys = ['cert_file', 'key_file', 'client_ca_file', 'client_auth_type', 'min_version'];
  const parsed = loadYamlFile<unknown>(path, readFile, origin, validate, (at) =>
    at === 'tls_server_config' ? tlsKeys : topKeys,
  );
  const config = parsed as {
    tls_server_config?: Record<string, string>;
    basic_auth_users?: Record<string, string>;
  };
  const read = (key: string, file: string): Buffer => {
    try {
      return Buffer.from(readFile(file));
    } catch (error) {
      throw new ConfigError(
        `tls_server_config.${key} in ${path}: cannot read ${file}: ${(error as Error).message}`,
      );
    }
  };
  const t = config.tls_server_config;
  let tls: WebConfig['tls'];
  const verifying =
    t?.client_auth_type === 'RequireAndVerifyClientCert' ||
    t?.client_auth_type === 'VerifyClientCertIfGiven';
  // As exporter-toolkit: verifying client certificates against the public CA
  // store would let anyone with any public certificate in.
  if (verifying && !t?.client_ca_file) {
    throw new ConfigError(
      `tls_server_config.client_auth_type in ${path}: ${t?.client_auth_type} needs tls_server_config.client_ca_file`,
    );
  }
  if (t?.cert_file && t.key_file) {
    tls = {
      cert: read('cert_file', t.cert_file),
      key: read('key_file', t.key_file),
      ...(t.client_ca_file ? { ca: read('client_ca_file', t.client_ca_file) } : {}),
      requireClientCert: t.client_auth_type === 'RequireAndVerifyClientCert',
      verifyClientCert: verifying,
      ...(t.min_version ? { minVersion: t.min_version === 'TLS13' ? 'TLSv1.3' : 'TLSv1.2' } : {}),
    } as WebConfig['tls'];
  }
  return {
    ...(tls ? { tls } : {}),
    basicAuthUsers: new Map(Object.entries(config.basic_auth_users ?? {})),
  };
}

/**
 * Checks basic auth credentials against the bcrypt hashes. bcrypt is slow by
 * design (tens of ms in JS); like exporter-toolkit we remember successful
 * checks, keyed by a hash of user and password, so scrapes stay fast.
 */
export class BasicAuthChecker {
  private readonly verified = new Set<string>();

  constructor(private readonly users: ReadonlyMap<string, string>) {}

  get enabled(): boolean {
    return this.users.size > 0;
  }

  async check(header: string | undefined): Promise<boolean> {
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    if (!hash) return false;
    const cacheKey = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    if (this.verified.has(cacheKey)) return true;
    // bcryptjs knows $2a$/$2b$; Go's htpasswd writes $2y$, the same algorithm.
    const ok = await bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
    if (ok) {
      if (this.verified.size > 1000) this.verified.clear();
      this.verified.add(cacheKey);
    }
    return ok;
  }
}
