import { Redis, type RedisOptions } from 'ioredis';

/**
 * The errors a fresh, non-retrying client sees on its first PING, joined; ''
 * when PING works. A TLS refusal arrives on the 'error' event (the command only
 * learns that the connection closed), so both are collected.
 */
export async function firstPingErrors(options: RedisOptions): Promise<string> {
  const seen: string[] = [];
  const client = new Redis({
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
    ...options,
  });
  client.on('error', (error: Error) => seen.push(error.message));
  try {
    await client.ping();
    return '';
  } catch (error) {
    return [...seen, (error as Error).message].join('; ');
  } finally {
    client.disconnect();
  }
}
