import { type KeyLayout, keyLayout } from './command-keys.js';

/**
 * `db.query.text` for a Redis command, built from an allow-list: the command
 * name, the shape of each key (`session:<redacted>`), the arguments that the
 * table below marks as structural (numbers and keywords such as `EX 60`),
 * and `?` for everything else. Values never appear, and neither do key names
 * past their namespace: session ids are bearer secrets.
 *
 * The table follows the idea of OpenTelemetry's redis-common (how many
 * leading arguments of a command are safe to show); written here rather than
 * imported because redis-common would show key names verbatim.
 */

/** Leading arguments that may be shown (keys still as shapes). -1: all. Unlisted: none. */
const SAFE_ARGUMENTS: readonly (readonly [RegExp, number])[] = [
  [/^(auth|hello|migrate|acl|config|echo|eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/, 0],
  [
    /^(getset|lpush|rpush|lpushx|rpushx|mset|msetnx|pfadd|psetex|publish|spublish|sadd|set|setnx|setex|xadd|zadd|append|setrange)$/,
    1,
  ],
  [/^(hset|hsetnx|hmset|lset|linsert|lrem)$/, 2],
  [
    /^(get|getdel|getex|mget|del|unlink|exists|expire|pexpire|expireat|pexpireat|ttl|pttl|persist|type|incr|incrby|decr|decrby|hget|hmget|hgetall|hdel|hexists|hlen|hkeys|hvals|hincrby|llen|lrange|lpop|rpop|lindex|ltrim|scard|smembers|sismember|srem|zcard|zscore|zrange|zrangebyscore|zrem|zincrby|zcount|zrank|strlen|ping|select|wait|multi|exec|discard|watch|unwatch|info|role|dbsize|time|scan|sscan|hscan|zscan|subscribe|unsubscribe|psubscribe|punsubscribe|client|cluster|command|memory|object)$/,
    -1,
  ],
];

const NAMESPACE_SEGMENT = /^[a-z][a-z_-]{0,23}$/;
const NUMBER = /^-?\d{1,20}(\.\d+)?$/;
/** Option keywords: structure, never data (a field or member name is data and shows as `?`). */
const KEYWORDS = new Set(
  'ex px exat pxat nx xx keepttl get withscores limit match count type ch incr gt lt byscore bylex rev persist replication setname getname id list info novalues withvalues'.split(
    ' ',
  ),
);

function isStructural(arg: string): boolean {
  return NUMBER.test(arg) || KEYWORDS.has(arg.toLowerCase());
}

interface CommandRule {
  readonly upper: string;
  readonly allowed: number;
  readonly layout: KeyLayout;
}
const rules = new Map<string, CommandRule>();

function ruleFor(command: string): CommandRule {
  let rule = rules.get(command);
  if (rule === undefined) {
    const name = command.toLowerCase();
    let allowed = 0;
    for (const [pattern, count] of SAFE_ARGUMENTS) {
      if (pattern.test(name)) {
        allowed = count;
        break;
      }
    }
    rule = { upper: name.toUpperCase(), allowed, layout: keyLayout(name) };
    if (rules.size < 1000) rules.set(command, rule);
  }
  return rule;
}

// Key shapes are computed for every traced command; workloads reuse keys, so a bounded
// memo saves the split and regex work (about 1 µs per span in bench/client.ts).
const MAX_MEMOIZED_SHAPES = 10_000;
const shapes = new Map<string, string>();

function memoizedKeyShape(key: string): string {
  let shape = shapes.get(key);
  if (shape === undefined) {
    shape = keyShape(key);
    if (shapes.size >= MAX_MEMOIZED_SHAPES) shapes.clear();
    shapes.set(key, shape);
  }
  return shape;
}

/**
 * The shape of a key: its leading namespace segments (lower-case words such as
 * `session` or `cache`) followed by `<redacted>`; the last segment is always
 * redacted, and so is everything after the first segment that is not a plain word.
 *
 * ```ts
 * keyShape('app:session:9f8e7d'); // 'app:session:<redacted>'
 * ```
 */
export function keyShape(key: string): string {
  const segments = key.split(':');
  const kept: string[] = [];
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i] as string;
    if (!NAMESPACE_SEGMENT.test(segment)) break;
    kept.push(segment);
  }
  kept.push('<redacted>');
  return kept.join(':');
}

function isKey(arg: string, keys: readonly unknown[]): boolean {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === arg || (typeof key !== 'string' && asText(key) === arg)) return true;
  }
  return false;
}

function asText(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'number') return String(arg);
  return undefined;
}

/**
 * Sanitized query text for one command; `keys` are the command's key
 * arguments (ioredis `Command#getKeys()`).
 *
 * ```ts
 * sanitizeQueryText('set', ['session:abc', '{"user":1}', 'EX', 60], ['session:abc']);
 * // 'SET session:<redacted> ? ? ?'
 * ```
 */
export function sanitizeQueryText(
  command: string,
  args: readonly unknown[],
  keys: readonly unknown[],
): string {
  const { upper, allowed } = ruleFor(command);
  let text = upper;
  for (let i = 0; i < args.length; i++) {
    const arg = asText(args[i]);
    if (arg !== undefined && keys.length > 0 && isKey(arg, keys)) {
      text += ` ${memoizedKeyShape(arg)}`;
    } else if ((allowed === -1 || i < allowed) && arg !== undefined && isStructural(arg)) {
      text += ` ${arg}`;
    } else {
      text += ' ?';
    }
  }
  return text;
}

/** What `commandQueryText()` reads of a command; an ioredis `Command` is one. */
export interface CommandLike {
  readonly name: string;
  readonly args: readonly unknown[];
  /** The key arguments (ioredis `Command#getKeys()`); called only when the key positions are not known here. */
  getKeys(): readonly unknown[];
}

/**
 * Sanitized query text for an ioredis command, as `sanitizeQueryText()`
 * writes it, without asking ioredis for the keys of the common commands whose
 * key positions are known. Keys are found by position, so a value that
 * happens to equal a key still shows as `?`.
 *
 * ```ts
 * commandQueryText(new Command('set', ['session:abc', '{"user":1}']));
 * // 'SET session:<redacted> ?'
 * ```
 */
export function commandQueryText(command: CommandLike): string {
  const { name, args } = command;
  const rule = ruleFor(name);
  if (rule.layout === 'ask-ioredis') return sanitizeQueryText(name, args, command.getKeys());
  const { allowed } = rule;
  const every = rule.layout === 'every';
  let text = rule.upper;
  for (let i = 0; i < args.length; i++) {
    const arg = asText(args[i]);
    if (arg === undefined) {
      text += ' ?';
    } else if (every || i === 0) {
      text += ` ${memoizedKeyShape(arg)}`;
    } else if ((allowed === -1 || i < allowed) && isStructural(arg)) {
      text += ` ${arg}`;
    } else {
      text += ' ?';
    }
  }
  return text;
}
