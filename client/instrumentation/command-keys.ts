/**
 * Where a command's keys are, for the commands apps send most: Redis' key
 * specification says the key is the first argument only (first=1, last=1, step=1)
 * or every argument (first=1, last=-1, step=1). Knowing it here spares asking
 * ioredis (`Command#getKeys()`, about 0.3 µs a command: it allocates while it
 * consults its command table). test/client/instrumentation/query-text.test.ts
 * checks every name
 * below against ioredis' own table. Other commands ask ioredis.
 */
export const FIRST_ARGUMENT_KEY: ReadonlySet<string> = new Set(
  'append decr decrby expire expireat get getdel getex getrange getset hdel hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hscan hset hsetnx hstrlen hvals incr incrby incrbyfloat lindex linsert llen lpop lpos lpush lpushx lrange lrem lset ltrim persist pexpire pexpireat pfadd psetex pttl rpop rpush rpushx sadd scard set setex setnx setrange sismember smembers smismember spop srandmember srem sscan strlen ttl type xadd xlen xrange xrevrange xtrim zadd zcard zcount zincrby zmscore zrange zrangebyscore zrank zrem zremrangebyrank zremrangebyscore zrevrange zrevrangebyscore zrevrank zscan zscore'.split(
    ' ',
  ),
);
/** Commands whose every argument is a key. */
export const EVERY_ARGUMENT_KEY: ReadonlySet<string> = new Set(
  'del exists mget touch unlink watch'.split(' '),
);

export type KeyLayout = 'first' | 'every' | 'ask-ioredis';

/** Where the keys of `command` (lower-case) are. */
export function keyLayout(command: string): KeyLayout {
  if (FIRST_ARGUMENT_KEY.has(command)) return 'first';
  return EVERY_ARGUMENT_KEY.has(command) ? 'every' : 'ask-ioredis';
}

/** What `visitKeys` reads of a command; an ioredis `Command` is one. */
export interface KeyedCommand {
  readonly name: string;
  readonly args: readonly unknown[];
  getKeys(): readonly unknown[];
}

const layouts = new Map<string, KeyLayout>();

/**
 * Calls `visit` with each key of `command`, as a string (Buffer keys byte
 * for byte, as latin1). Allocates nothing for the common commands; other
 * commands ask ioredis' command table.
 *
 * ```ts
 * visitKeys(new Command('mget', ['a', 'b']), (key) => console.log(key)); // a, b
 * ```
 */
export function visitKeys(command: KeyedCommand, visit: (key: string) => void): void {
  const { name, args } = command;
  let layout = layouts.get(name);
  if (layout === undefined) {
    layout = keyLayout(name.toLowerCase());
    if (layouts.size < 1000) layouts.set(name, layout);
  }
  if (layout === 'first') {
    if (args.length > 0) visitOne(args[0], visit);
  } else if (layout === 'every') {
    for (let i = 0; i < args.length; i++) visitOne(args[i], visit);
  } else {
    for (const key of command.getKeys()) visitOne(key, visit);
  }
}

function visitOne(key: unknown, visit: (key: string) => void): void {
  if (typeof key === 'string') visit(key);
  // latin1 maps every byte to one character: two binary keys never merge into one name.
  else if (Buffer.isBuffer(key)) visit(key.toString('latin1'));
  else if (typeof key === 'number') visit(String(key));
}
