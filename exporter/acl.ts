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

export const SENTINEL_COMMANDS = [
  'info',
  'sentinel|masters',
  'sentinel|ckquorum',
  'sentinel|replicas',
  'sentinel|sentinels',
  'sentinel|get-master-addr-by-name',
] as const;

/** `ACL SETUSER` arguments for a data node (master or replica). */
export function dataNodeAclRules(password: string, options: { lfu?: boolean } = {}): string[] {
  return [
    'reset',
    'on',
    `>${password}`,
    '-@all',
    ...DATA_NODE_COMMANDS.map((c) => `+${c}`),
    ...DATA_NODE_KEY_PATTERNS,
    ...(options.lfu ? [LFU_SAMPLER_SELECTOR] : []),
  ];
}

/** `ACL SETUSER` arguments for a Sentinel (Sentinel keeps its own ACL). */
export function sentinelAclRules(password: string): string[] {
  return ['reset', 'on', `>${password}`, '-@all', ...SENTINEL_COMMANDS.map((c) => `+${c}`)];
}

export const EXPORTER_ACL_USER = 'redscope-exporter';
