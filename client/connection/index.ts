export {
  type AddressInput,
  CLIENT_DEFAULTS,
  type ClientLogger,
  type PreferredReplica,
  type RedisClientsConfig,
  type TlsConfig,
} from './config.js';
export { createRedisClients, type RedisClients } from './create-redis-clients.js';
export {
  DURABLE_WRITE_DEFAULTS,
  type DurableWriteOptions,
  type DurableWriteResult,
  writeDurably,
} from './durable-write.js';
export { DurableWriteError, type DurableWriteFailure, RedisConfigError } from './errors.js';
export { READ_COMMANDS, type ReadClient, type ReadCommand } from './read-client.js';
