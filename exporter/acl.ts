import type { OptInConfig } from './opt-in-config.js';

/**
 * The least-privilege Redis ACL for the exporter: read-only server
 * introspection, read access to the hot-key reports and the warming status
 * records and nothing else, no
 * channel access. `test/exporter/compatibility.int.test.ts` creates exactly
 * these users and scrapes with every collector succeeding, and a unit test
 * checks that every command a collector sends is listed here.
 */
export const DATA_NODE_COMMANDS = [
  'info',
  'config|get',
  'latency|histogram',
  'latency|latest',
  'slowlog|len',
  'slowlog|get',
  'client|list',
  // The hot-key reports and the warming status records (exporter/indexed-records.ts),
  // on DATA_NODE_KEY_PATTERNS only.
  'zrevrange',
  'strlen',
  'mget',
] as const;

/**
 * The only keys the exporter may read: the clients' hot-key reports and the
 * warming status records, each with its index. Not the warming usage records
 * (`redscope:{warming}:usage:*`): they hold real key names, session ids included.
 */
export const DATA_NODE_KEY_PATTERNS = [
  '%R~redscope:{hotkeys}*',
  '%R~redscope:{warming}:status*',
] as const;

/**
 * What the LFU sampler (`hotkeys.lfu.enabled`, off by default) adds: a
 * selector, so OBJECT FREQ may name any key while MGET stays on the reports.
 * SCAN lets the exporter see every key name (session ids included; it exports
 * them redacted only), which is why it is not in the default rules.
 */
export const LFU_SAMPLER_SELECTOR = '(%R~* +scan +object|freq)';

/** What the key collectors send about a key: its type, its size by type, its memory, a value's first bytes. */
export const KEY_CHECK_COMMANDS = [
  'type',
  'strlen',
  'getrange',
  'llen',
  'scard',
  'zcard',
  'hlen',
  'xlen',
  'pfcount',
  'memory|usage',
] as const;

/** What the stream collector adds on stream keys. */
export const STREAM_COMMANDS = ['type', 'xinfo|stream', 'xinfo|groups', 'xinfo|consumers'] as const;

/**
 * A key name as an ACL key pattern that matches it (`*?[]\\` escaped).
 * Redis splits ACL rules at whitespace, escaped or not, so a space, tab or
 * newline becomes `?`: the pattern then also matches the same name with any
 * other byte there, the closest Redis can express.
 */
export function exactKeyPattern(key: string): string {
  return key.replace(/[*?[\]\\]/g, '\\$&').replace(/\s/g, '?');
}

/** A configured glob as an ACL key pattern: whitespace (escaped or not) becomes `?`, as in exactKeyPattern. */
export function aclGlob(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    const next = pattern[i + 1];
    if (c === '\\' && next !== undefined) {
      out += /\s/.test(next) ? '?' : c + next;
      i++;
    } else {
      out += /\s/.test(c) ? '?' : c;
    }
  }
  return out;
}

/** The patterns and keys the opt-in collectors read, as ACL rules; empty when none is configured. */
export function optInAclRules(optIn: OptInConfig): string[] {
  const checks = optIn.keyChecks;
  const rules: string[] = [];
  const scans =
    checks.keys.length + checks.streams.length + checks.countKeys.length + checks.keyGroups.length >
    0;
  // SCAN names no key, so no key pattern covers it; it lets the exporter see every key name.
  if (scans) rules.push('+scan');
  // Keys in another database are read on a connection of their own that SELECTs it; key
  // groups scan every database that holds keys.
  const otherDb = [
    ...checks.keys,
    ...checks.singleKeys,
    ...checks.streams,
    ...checks.singleStreams,
    ...checks.countKeys,
  ].some((spec) => spec.db !== 0);
  if (otherDb || checks.keyGroups.length > 0) rules.push('+select');
  const keyPatterns = [
    ...checks.keys.map((k) => aclGlob(k.key)),
    ...checks.singleKeys.map((k) => exactKeyPattern(k.key)),
  ];
  if (keyPatterns.length > 0) {
    rules.push(
      `(${[...keyPatterns.map((p) => `%R~${p}`), ...KEY_CHECK_COMMANDS.map((c) => `+${c}`)].join(' ')})`,
    );
  }
  const streamPatterns = [
    ...checks.streams.map((k) => aclGlob(k.key)),
    ...checks.singleStreams.map((k) => exactKeyPattern(k.key)),
  ];
  if (streamPatterns.length > 0) {
    rules.push(
      `(${[...streamPatterns.map((p) => `%R~${p}`), ...STREAM_COMMANDS.map((c) => `+${c}`)].join(' ')})`,
    );
  }
  // Key groups read the memory of every key of every database.
  if (checks.keyGroups.length > 0) rules.push('(%R~* +memory|usage)');
  const { scripts, functions, allowWrites } = optIn.scripts;
  if (scripts.length > 0) rules.push(allowWrites ? '+eval' : '+eval_ro');
  if (functions.length > 0) rules.push(allowWrites ? '+fcall' : '+fcall_ro');
  return rules;
}

/**
 * What a Redis Cluster node adds (the `cluster` and `cluster_nodes` collectors
 * and node discovery): topology only, no key or value. Granted on cluster nodes
 * alone, so a Sentinel deployment's ACL stays as it was; on a node without
 * cluster support the exporter never sends them.
 */
export const CLUSTER_NODE_COMMANDS = ['cluster|info', 'cluster|nodes'] as const;

export const SENTINEL_COMMANDS = [
  'info',
  'sentinel|masters',
  'sentinel|ckquorum',
  'sentinel|replicas',
  'sentinel|sentinels',
  'sentinel|get-master-addr-by-name',
] as const;

/** `ACL SETUSER` arguments for a data node (master or replica); `cluster` for a Redis Cluster node. */
export function dataNodeAclRules(
  password: string,
  options: { lfu?: boolean; optIn?: OptInConfig; cluster?: boolean } = {},
): string[] {
  return [
    'reset',
    'on',
    `>${password}`,
    '-@all',
    ...DATA_NODE_COMMANDS.map((c) => `+${c}`),
    ...(options.cluster ? CLUSTER_NODE_COMMANDS.map((c) => `+${c}`) : []),
    ...DATA_NODE_KEY_PATTERNS,
    ...(options.lfu ? [LFU_SAMPLER_SELECTOR] : []),
    ...(options.optIn ? optInAclRules(options.optIn) : []),
  ];
}

/** `ACL SETUSER` arguments for a Sentinel (Sentinel keeps its own ACL). */
export function sentinelAclRules(password: string): string[] {
  return ['reset', 'on', `>${password}`, '-@all', ...SENTINEL_COMMANDS.map((c) => `+${c}`)];
}

export const EXPORTER_ACL_USER = 'redscope-exporter';
