import type { Redis } from 'ioredis';
import type { RedisClients } from '../../../client/connection/create-redis-clients.js';
import { writeDurably } from '../../../client/connection/durable-write.js';
import { createReadClient } from '../../../client/connection/read-client.js';
import { clientFor, portOf, sharedTopology } from '../../support/shared-topology.js';

/** A writer on the shared master and a reader on its first replica; quit both with `close()`. */
export function sharedPair(): {
  writer: Redis;
  reader: Redis;
  /** Resolves once both have connected. */
  ready(): Promise<void>;
  close(): void;
} {
  const topology = sharedTopology();
  const writer = clientFor(topology, portOf(topology, 'master'));
  const reader = clientFor(topology, portOf(topology, 'replica'));
  return {
    writer,
    reader,
    async ready() {
      await Promise.all([writer.ping(), reader.ping()]);
    },
    close() {
      writer.disconnect();
      reader.disconnect();
    },
  };
}

/** A key prefix no other test uses (letters only, so query texts keep it as a namespace). */
export function uniquePrefix(name: string): string {
  const letters = Array.from({ length: 10 }, () =>
    String.fromCharCode(97 + Math.floor(Math.random() * 26)),
  );
  return `t-${name}-${letters.join('')}:`;
}

/**
 * The three handles the session cache takes, built on raw connections the
 * test instruments itself (what `createRedisClients` hands out, minus the factory).
 */
export function sessionClientsOf(pair: {
  writer: Redis;
  reader?: Redis;
}): Pick<RedisClients, 'writer' | 'reader' | 'writeDurably'> {
  return {
    writer: pair.writer,
    reader: createReadClient(pair.reader, pair.writer, 1000),
    writeDurably: (write, options) => writeDurably(pair.writer, write, options),
  };
}
