/**
 * The least-privilege Redis ACL for the exporter: read-only server
 * introspection, no key or channel access. `test/exporter/least-privilege.int.test.ts`
 * creates exactly these users and scrapes with every collector succeeding, and a
 * unit test checks that every command a collector sends is listed here.
 */
export const DATA_NODE_COMMANDS = [
  'info',
  'config|get',
  'latency|histogram',
  'latency|latest',
  'slowlog|len',
  'slowlog|get',
  'client|list',
] as const;

export const SENTINEL_COMMANDS = [
  'info',
  'sentinel|masters',
  'sentinel|ckquorum',
  'sentinel|replicas',
  'sentinel|sentinels',
  'sentinel|get-master-addr-by-name',
] as const;

/** `ACL SETUSER` arguments for a data node (master or replica). */
export function dataNodeAclRules(password: string): string[] {
  return ['reset', 'on', `>${password}`, '-@all', ...DATA_NODE_COMMANDS.map((c) => `+${c}`)];
}

/** `ACL SETUSER` arguments for a Sentinel (Sentinel keeps its own ACL). */
export function sentinelAclRules(password: string): string[] {
  return ['reset', 'on', `>${password}`, '-@all', ...SENTINEL_COMMANDS.map((c) => `+${c}`)];
}

export const EXPORTER_ACL_USER = 'redscope-exporter';
