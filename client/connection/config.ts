import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { hostProblem, unparsedUrlHostHint, urlHost } from '../common/host.js';
import { redactUrlCredentials } from '../common/redaction.js';
import { ConfigError } from '../errors.js';

/**
 * A `host:port` string or an object; the host a DNS name
 * (`sentinel-1.railway.internal:26379`), an IPv4 address or an IPv6 address,
 * in brackets in the string form (`[fd12::5]:26379`).
 */
export type AddressInput = string | { readonly host: string; readonly port: number };

/**
 * TLS settings for one kind of connection (data nodes or Sentinels). Each PEM
 * value can be given as a file path (`caFile`) or as contents (`ca`), not both.
 */
export interface TlsConfig {
  /**
   * CA bundle that signed the servers' certificates.
   * @default Node's public CA store
   */
  readonly caFile?: string;
  readonly ca?: string | Buffer;
  /**
   * Client certificate, for servers with `tls-auth-clients yes`.
   * @default none
   */
  readonly certFile?: string;
  readonly cert?: string | Buffer;
  /** Private key of the client certificate; required with a certificate. */
  readonly keyFile?: string;
  readonly key?: string | Buffer;
  /**
   * Name to check the server certificate against.
   * @default the address connected to
   */
  readonly servername?: string;
  /**
   * Accept any server certificate. Only for a lab: it makes TLS useless against
   * an attacker. When true, `createRedisClients` logs a warning, so it needs
   * the `logger` option.
   * @default false
   */
  readonly insecureSkipVerify?: boolean;
}

/** A preferred replica for reads, by announced address; lower `priority` wins. */
export interface PreferredReplica {
  readonly host: string;
  readonly port: number;
  readonly priority?: number;
}

/**
 * A Redis Cluster: the seed nodes, where the reader sends reads, and how to
 * reach nodes that announce addresses this process cannot dial.
 */
export interface ClusterConfig {
  /**
   * Seed nodes (`host:port` or `{ host, port }`, the host a DNS name, an IPv4
   * address or a bracketed IPv6 address): one that answers is enough, the
   * others are discovered (CLUSTER SLOTS). Names are dialled as written, so
   * TLS checks each node's certificate against the name it was reached by.
   */
  readonly nodes: readonly AddressInput[];
  /**
   * Where `reader` sends a read: `replica` (a replica of the shard that holds
   * the key, its master when the shard has none), `master` (read-your-writes:
   * the reader is the writer), or `all` (master or replica, at random).
   * @default 'replica'
   */
  readonly scaleReads?: 'master' | 'replica' | 'all';
  /**
   * Address translation for nodes that announce an address this process
   * cannot dial (NAT, a container network, a port forward), keyed by the
   * announced `host:port` (`[v6]:port` for IPv6):
   * `{ '10.0.1.5:6379': { host: 'redis-0.example.com', port: 16379 } }`.
   * @default none
   */
  readonly natMap?: Readonly<Record<string, { readonly host: string; readonly port: number }>>;
}

/**
 * Everything `createRedisClients` needs. Give either `url` (one Redis, no
 * Sentinel) or `sentinels` + `masterName`; for a Redis Cluster see ClusterClientsConfig.
 */
export interface RedisClientsConfig {
  /**
   * Standalone Redis: `rediss://[user:password@]host[:port][/db]` (or `redis://`
   * for plain TCP); the host a DNS name, an IPv4 address or `[IPv6]`.
   */
  readonly url?: string;
  /** Sentinel addresses; one reachable Sentinel is enough, the others are discovered. */
  readonly sentinels?: readonly AddressInput[];
  /** The name the Sentinels monitor the master under (`sentinel monitor <name> ...`). */
  readonly masterName?: string;
  /**
   * ACL user for the data nodes.
   * @default none (the `default` user)
   */
  readonly username?: string;
  /**
   * Password for the data nodes. Never logged.
   * @default none
   */
  readonly password?: string;
  /**
   * ACL user for the Sentinels.
   * @default none
   */
  readonly sentinelUsername?: string;
  /**
   * Password for the Sentinels. Never logged.
   * @default none
   */
  readonly sentinelPassword?: string;
  /**
   * TLS for the data nodes; `false` means plain TCP. In URL mode the scheme
   * decides (`rediss://`) and these settings refine it.
   * @default on in Sentinel mode: Node's CA store, verification on
   */
  readonly tls?: TlsConfig | false;
  /**
   * TLS for the Sentinels.
   * @default the same as `tls`
   */
  readonly sentinelTls?: TlsConfig | false;
  /**
   * Where `reader` sends reads: `replica` (falls back to the master when no
   * replica answers) or `master` (read-your-writes).
   * @default 'replica'
   */
  readonly readFrom?: 'replica' | 'master';
  /**
   * Replicas to read from first, when reachable.
   * @default any healthy replica
   */
  readonly preferredReplicas?: readonly PreferredReplica[];
  /**
   * Longest a write may wait for its reply before it fails (ms).
   * @default 2000
   */
  readonly commandTimeoutMs?: number;
  /**
   * Longest a read waits for a replica before it is retried on the master (ms).
   * @default 500
   */
  readonly readTimeoutMs?: number;
  /**
   * When a read failed on the replica and on the master (both reconnecting after
   * a failover), how long it waits for the replica to come back before failing (ms).
   * @default 1000
   */
  readonly readRetryWindowMs?: number;
  /**
   * Longest a TCP+TLS connect may take (ms).
   * @default 2000
   */
  readonly connectTimeoutMs?: number;
  /**
   * Reconnection attempts a queued write survives before it fails with
   * MaxRetriesPerRequestError: with the default a caller learns within about a
   * second that the master is gone instead of waiting out the failover.
   * @default 2
   */
  readonly maxRetriesPerRequest?: number;
  /**
   * First reconnect delay (ms); doubles per attempt.
   * @default 50
   */
  readonly reconnectMinDelayMs?: number;
  /**
   * Cap of the reconnect delay (ms). Short so a new master is found fast.
   * @default 500
   */
  readonly reconnectMaxDelayMs?: number;
  /**
   * `CLIENT SETNAME` of the connections (`-writer`/`-reader` is appended).
   * @default `redscope`
   */
  readonly connectionName?: string;
}

/**
 * The settings of a Redis Cluster client: `cluster` instead of `url` or
 * `sentinels`, and the options every mode shares (credentials, `tls`,
 * timeouts, retries). TLS is on unless `tls: false`, as in Sentinel mode.
 * Where reads go is `cluster.scaleReads`.
 */
export type ClusterClientsConfig = Omit<
  RedisClientsConfig,
  | 'url'
  | 'sentinels'
  | 'masterName'
  | 'sentinelUsername'
  | 'sentinelPassword'
  | 'sentinelTls'
  | 'readFrom'
  | 'preferredReplicas'
> & { readonly cluster: ClusterConfig };

/** Defaults, one place, each explained on its option above. */
const CLIENT_DEFAULTS = {
  readFrom: 'replica',
  commandTimeoutMs: 2000,
  readTimeoutMs: 500,
  readRetryWindowMs: 1000,
  connectTimeoutMs: 2000,
  maxRetriesPerRequest: 2,
  reconnectMinDelayMs: 50,
  reconnectMaxDelayMs: 500,
  connectionName: 'redscope',
} as const;

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** TLS material read and checked: what Node's `tls.connect` takes. */
export interface ResolvedTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

interface ResolvedCommon {
  readonly username?: string;
  readonly password?: string;
  readonly tls?: ResolvedTls;
  readonly readFrom: 'replica' | 'master';
  readonly commandTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly readRetryWindowMs: number;
  readonly connectTimeoutMs: number;
  readonly maxRetriesPerRequest: number;
  readonly reconnectMinDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly connectionName: string;
}

export interface ResolvedStandalone extends ResolvedCommon {
  readonly mode: 'standalone';
  readonly address: Address;
  readonly db: number;
}

export interface ResolvedSentinel extends ResolvedCommon {
  readonly mode: 'sentinel';
  readonly sentinels: readonly Address[];
  readonly masterName: string;
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
  readonly sentinelTls?: ResolvedTls;
  readonly preferredReplicas: readonly PreferredReplica[];
}

export interface ResolvedCluster extends ResolvedCommon {
  readonly mode: 'cluster';
  readonly nodes: readonly Address[];
  readonly scaleReads: 'master' | 'replica' | 'all';
  /** Keyed `host:port` as the nodes announce themselves (an IPv6 host without brackets, as ioredis keys nodes). */
  readonly natMap: Readonly<Record<string, Address>>;
}

/** A config checked and with every default applied. */
export type ResolvedClientsConfig = ResolvedStandalone | ResolvedSentinel | ResolvedCluster;

/**
 * Checks `config` and applies defaults; reads TLS files. Throws
 * ConfigError naming the first bad option. Makes no connection.
 */
export function resolveClientsConfig(
  input: RedisClientsConfig | ClusterClientsConfig,
): ResolvedClientsConfig {
  if (input === null || typeof input !== 'object') {
    throw new ConfigError(
      'config',
      'expected an object with url, sentinels and masterName, or cluster',
    );
  }
  // Read as the union of both shapes: a JavaScript caller can mix them, and is told which to drop.
  const config = input as RedisClientsConfig & { readonly cluster?: ClusterConfig };
  const common = resolveCommon(config);
  const hasSentinels = config.sentinels !== undefined;
  if (config.cluster !== undefined) {
    const other = config.url !== undefined ? 'url' : hasSentinels ? 'sentinels' : undefined;
    if (other !== undefined) {
      throw new ConfigError(
        'cluster',
        `give one of url (one Redis), sentinels and masterName, or cluster; got cluster and ${other}`,
      );
    }
    return resolveCluster(config, config.cluster, common);
  }
  if (config.url !== undefined && hasSentinels) {
    throw new ConfigError('sentinels', 'give either url (one Redis) or sentinels, not both');
  }
  if (config.url !== undefined) return resolveStandalone(config, common);
  if (!hasSentinels) {
    throw new ConfigError(
      'url',
      'missing: give url (rediss://host:port) for one Redis, sentinels and masterName, or cluster (seed nodes)',
    );
  }
  return resolveSentinel(config, common);
}

type Common = Omit<ResolvedCommon, 'tls'>;

function resolveCommon(config: RedisClientsConfig): Common {
  const readFrom = config.readFrom ?? CLIENT_DEFAULTS.readFrom;
  if (readFrom !== 'replica' && readFrom !== 'master') {
    throw new ConfigError('readFrom', `must be "replica" or "master", got ${String(readFrom)}`);
  }
  const reconnectMinDelayMs = positive(config, 'reconnectMinDelayMs');
  const reconnectMaxDelayMs = positive(config, 'reconnectMaxDelayMs');
  if (reconnectMaxDelayMs < reconnectMinDelayMs) {
    throw new ConfigError('reconnectMaxDelayMs', 'must not be below reconnectMinDelayMs');
  }
  const connectionName = config.connectionName ?? CLIENT_DEFAULTS.connectionName;
  if (!/^[!-~]+$/.test(connectionName)) {
    throw new ConfigError('connectionName', 'must be non-empty printable ASCII without spaces');
  }
  const maxRetries = config.maxRetriesPerRequest ?? CLIENT_DEFAULTS.maxRetriesPerRequest;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new ConfigError('maxRetriesPerRequest', `must be an integer >= 0, got ${maxRetries}`);
  }
  return {
    ...credentials(config.username, config.password, 'username'),
    readFrom,
    commandTimeoutMs: positive(config, 'commandTimeoutMs'),
    readTimeoutMs: positive(config, 'readTimeoutMs'),
    readRetryWindowMs: positive(config, 'readRetryWindowMs'),
    connectTimeoutMs: positive(config, 'connectTimeoutMs'),
    maxRetriesPerRequest: maxRetries,
    reconnectMinDelayMs,
    reconnectMaxDelayMs,
    connectionName,
  };
}

type NumericOption =
  | 'commandTimeoutMs'
  | 'readTimeoutMs'
  | 'readRetryWindowMs'
  | 'connectTimeoutMs'
  | 'reconnectMinDelayMs'
  | 'reconnectMaxDelayMs';

function positive(config: RedisClientsConfig, option: NumericOption): number {
  const value = config[option] ?? CLIENT_DEFAULTS[option];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(option, `must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}

function credentials(
  username: string | undefined,
  password: string | undefined,
  option: string,
): { username?: string; password?: string } {
  if (username !== undefined && password === undefined) {
    // An ACL user without a password only makes sense for `nopass` users; say so rather than guess.
    throw new ConfigError(option, 'an ACL username needs its password (use "" for a nopass user)');
  }
  return {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

function resolveStandalone(config: RedisClientsConfig, common: Common): ResolvedStandalone {
  let url: URL;
  try {
    url = new URL(String(config.url));
  } catch {
    const hint = unparsedUrlHostHint(String(config.url));
    throw new ConfigError(
      'url',
      `"${redactUrlCredentials(String(config.url))}" is not a URL; ${hint ?? 'expected rediss://host:port'}`,
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(
      'url',
      `scheme must be rediss:// (TLS) or redis://, got ${url.protocol}//`,
    );
  }
  if (url.hostname === '') throw new ConfigError('url', 'has no host');
  const { host, written, problem } = urlHost(url.hostname);
  if (problem !== undefined) throw new ConfigError('url', `host "${written}" ${problem}`);
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) {
    throw new ConfigError('url', `database "${dbText}" must be a number >= 0`);
  }
  if (config.sentinelTls !== undefined || config.masterName !== undefined) {
    throw new ConfigError(
      config.masterName !== undefined ? 'masterName' : 'sentinelTls',
      'only applies with sentinels; remove it or use sentinels instead of url',
    );
  }
  const tlsWanted = url.protocol === 'rediss:';
  if (!tlsWanted && config.tls) {
    throw new ConfigError('tls', 'given with a redis:// (plain TCP) url; use rediss://');
  }
  const username = config.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = config.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  const tls = tlsWanted ? resolveTls(config.tls || {}, 'tls') : undefined;
  return {
    ...common,
    ...credentials(username, password, 'url'),
    ...(tls ? { tls } : {}),
    mode: 'standalone',
    address: { host, port },
    db,
  };
}

function resolveSentinel(config: RedisClientsConfig, common: Common): ResolvedSentinel {
  const list = config.sentinels;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError('sentinels', 'needs at least one Sentinel address (host:port)');
  }
  const sentinels = list.map((entry, index) => parseAddress(entry, `sentinels[${index}]`));
  const masterName = config.masterName;
  if (typeof masterName !== 'string' || masterName.trim() === '') {
    throw new ConfigError('masterName', 'missing: the name from "sentinel monitor <name> ..."');
  }
  const preferredReplicas = (config.preferredReplicas ?? []).map((replica, index) => {
    const option = `preferredReplicas[${index}]`;
    const { host, port } = parseAddress(replica, option);
    const priority = replica.priority ?? 1;
    if (!Number.isFinite(priority)) throw new ConfigError(option, 'priority must be a number');
    return { host, port, priority };
  });
  const tls = config.tls === false ? undefined : resolveTls(config.tls ?? {}, 'tls');
  const sentinelTlsInput = config.sentinelTls === undefined ? config.tls : config.sentinelTls;
  const sentinelTls =
    sentinelTlsInput === false
      ? undefined
      : config.sentinelTls === undefined
        ? tls
        : resolveTls(sentinelTlsInput ?? {}, 'sentinelTls');
  return {
    ...common,
    ...(tls ? { tls } : {}),
    ...(sentinelTls ? { sentinelTls } : {}),
    ...prefixed(credentials(config.sentinelUsername, config.sentinelPassword, 'sentinelUsername')),
    mode: 'sentinel',
    sentinels,
    masterName,
    preferredReplicas,
  };
}

/** Options that belong to Sentinel mode (or readFrom, which `cluster.scaleReads` replaces). */
const NOT_FOR_CLUSTER = [
  'masterName',
  'sentinelUsername',
  'sentinelPassword',
  'sentinelTls',
  'preferredReplicas',
  'readFrom',
] as const;

function resolveCluster(
  config: RedisClientsConfig,
  cluster: ClusterConfig,
  common: Common,
): ResolvedCluster {
  for (const option of NOT_FOR_CLUSTER) {
    if (config[option] !== undefined) {
      throw new ConfigError(
        option,
        option === 'readFrom'
          ? 'does not apply to a cluster: set cluster.scaleReads ("replica", "master" or "all")'
          : 'only applies with sentinels; remove it from a cluster config',
      );
    }
  }
  if (cluster === null || typeof cluster !== 'object') {
    throw new ConfigError('cluster', 'expected { nodes: ["host:port", ...] }');
  }
  const list = cluster.nodes;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError('cluster.nodes', 'needs at least one seed node address (host:port)');
  }
  const nodes = list.map((entry, index) => parseAddress(entry, `cluster.nodes[${index}]`));
  const scaleReads = cluster.scaleReads ?? 'replica';
  if (scaleReads !== 'replica' && scaleReads !== 'master' && scaleReads !== 'all') {
    throw new ConfigError(
      'cluster.scaleReads',
      `must be "replica", "master" or "all", got ${String(scaleReads)}`,
    );
  }
  const natMap: Record<string, Address> = {};
  const mapping = cluster.natMap ?? {};
  if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping)) {
    throw new ConfigError('cluster.natMap', 'expected { "announced-host:port": { host, port } }');
  }
  for (const [announced, target] of Object.entries(mapping)) {
    const option = `cluster.natMap["${announced}"]`;
    const from = parseAddress(announced, option);
    if (target === null || typeof target !== 'object') {
      throw new ConfigError(option, 'expected { host, port } to dial instead');
    }
    natMap[`${from.host}:${from.port}`] = parseAddress(target, option);
  }
  const tls = config.tls === false ? undefined : resolveTls(config.tls ?? {}, 'tls');
  return {
    ...common,
    ...(tls ? { tls } : {}),
    // What the reader is, in the terms the other modes use.
    readFrom: scaleReads === 'master' ? 'master' : 'replica',
    mode: 'cluster',
    nodes,
    scaleReads,
    natMap,
  };
}

function prefixed(creds: { username?: string; password?: string }): {
  sentinelUsername?: string;
  sentinelPassword?: string;
} {
  return {
    ...(creds.username !== undefined ? { sentinelUsername: creds.username } : {}),
    ...(creds.password !== undefined ? { sentinelPassword: creds.password } : {}),
  };
}

/**
 * Parses `host:port`, `[v6]:port` or `{ host, port }`; the host is a DNS name,
 * an IPv4 address or an IPv6 address (bracketed in the string form; the
 * brackets are dropped). Names are not resolved here: a name that does not
 * resolve is reported when connecting, naming it.
 */
export function parseAddress(input: AddressInput, option: string): Address {
  let host: string;
  let port: number;
  if (typeof input === 'string') {
    const text = input.trim();
    const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
    if (!match) {
      // `::1:26379` cannot be split: say how to write it instead of "not host:port".
      const hint =
        isIPv6(text.replace(/:\d{1,5}$/, '')) || isIPv6(text)
          ? '; an IPv6 address goes in brackets: [::1]:26379'
          : ' (e.g. 10.0.0.5:26379, redis-1.internal:26379 or [fd00::5]:26379)';
      throw new ConfigError(option, `"${input}" is not host:port${hint}`);
    }
    host = (match[1] ?? match[2]) as string;
    port = Number(match[3]);
    // A zone id (`[fe80::1%eth0]`) is an IPv6 address too: checkHost says why it is refused.
    if (match[1] !== undefined && !isIPv6(host.replace(/%.*$/, ''))) {
      throw new ConfigError(option, `"[${host}]" is not an IPv6 address`);
    }
  } else if (input && typeof input === 'object') {
    host = typeof input.host === 'string' ? input.host.replace(/^\[(.*)\]$/, '$1') : input.host;
    port = input.port;
  } else {
    throw new ConfigError(option, 'expected "host:port" or { host, port }');
  }
  if (typeof host !== 'string' || host.trim() === '') {
    throw new ConfigError(option, 'has an empty host');
  }
  checkHost(host, option);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(option, `port must be 1-65535, got ${String(port)}`);
  }
  return { host, port };
}

/**
 * A host is an IP address or a DNS name (client/common/host.ts, the check the
 * exporter makes too). Anything else (a URL, a space, `host:port` in the host
 * field, a number the resolver would read as another IPv4 address) would only
 * fail later, or dial somewhere else: refuse it now, naming it.
 */
function checkHost(host: string, option: string): void {
  const problem = hostProblem(host);
  if (problem !== undefined) throw new ConfigError(option, `host "${host}" ${problem}`);
}

type PemField = 'ca' | 'cert' | 'key';

function resolveTls(input: TlsConfig, option: string): ResolvedTls {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigError(option, 'expected TLS settings ({ caFile, certFile, keyFile }) or false');
  }
  const ca = pem(input, 'ca', option);
  const cert = pem(input, 'cert', option);
  const key = pem(input, 'key', option);
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      `${option}.${cert ? 'keyFile' : 'certFile'}`,
      'a client certificate needs both certFile and keyFile',
    );
  }
  if (input.servername !== undefined && input.servername.trim() === '') {
    throw new ConfigError(`${option}.servername`, 'must not be empty');
  }
  const insecure = input.insecureSkipVerify === true;
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(input.servername ? { servername: input.servername } : {}),
    rejectUnauthorized: !insecure,
  };
}

function pem(input: TlsConfig, field: PemField, option: string): Buffer | undefined {
  const fileField = `${field}File` as const;
  const path = input[fileField];
  const inline = input[field];
  if (path !== undefined && inline !== undefined) {
    throw new ConfigError(`${option}.${field}`, `give ${field} or ${fileField}, not both`);
  }
  if (inline !== undefined) {
    const buffer = Buffer.isBuffer(inline) ? inline : Buffer.from(String(inline));
    if (buffer.length === 0) throw new ConfigError(`${option}.${field}`, 'is empty');
    if (!buffer.includes('-----BEGIN')) {
      // TLS would fail 10 s later with "PEM routines::no start line"; say it now.
      const text = buffer.toString('utf8').trim();
      throw new ConfigError(
        `${option}.${field}`,
        looksLikePath(text)
          ? `holds PEM contents, and "${text}" looks like a file path: give the path as ${option}.${fileField}`
          : 'is not PEM (no -----BEGIN line): give the PEM text, or a path as ' +
              `${option}.${fileField}`,
      );
    }
    return buffer;
  }
  if (path === undefined) return undefined;
  try {
    const buffer = readFileSync(path);
    if (buffer.length === 0) throw new Error('the file is empty');
    return buffer;
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : (error as Error).message;
    throw new ConfigError(`${option}.${fileField}`, `cannot read ${path}: ${reason}`);
  }
}

/** A short single line that names a file rather than holding a certificate or key. */
function looksLikePath(text: string): boolean {
  return (
    text.length < 4096 &&
    !text.includes('\n') &&
    (/^(\.{0,2}\/|~\/|[A-Za-z]:\\)/.test(text) || existsSync(text))
  );
}
