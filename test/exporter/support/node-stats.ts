import type { Redis } from 'ioredis';

/**
 * The `errorstat_*` lines of INFO errorstats: every error reply the node has
 * sent, by error code. Read it on a connection opened before what is measured:
 * a new ioredis connection's CLIENT SETINFO is itself an error reply on Redis 7.0.
 */
export async function errorstats(client: Redis): Promise<string> {
  return String(await client.info('errorstats'))
    .split('\r\n')
    .filter((line) => line.startsWith('errorstat_'))
    .join('\n');
}

/** Calls of one command so far on the node, from INFO commandstats (0 before the first). */
export async function commandCalls(client: Redis, command: string): Promise<number> {
  const line = String(await client.info('commandstats'))
    .split('\r\n')
    .find((l) => l.startsWith(`cmdstat_${command}:`));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}
