import type { RedisClientsConfig } from '../client/connection/index.js';
import type { RedisTopology } from './topology.js';

/**
 * A client config for a launcher topology as an app would have it: the Sentinel
 * list, the CA and client certificate files, and the `app` ACL user when the
 * topology runs with ACL. Built from describe(), so it follows whatever
 * credentials and TLS files the launcher hands out.
 */
export function clientsConfigFor(
  topology: RedisTopology,
  extra: Partial<RedisClientsConfig> = {},
): RedisClientsConfig {
  const description = topology.describe();
  const credentials = description.users?.app ?? description.auth;
  return {
    sentinels: topology
      .names('sentinel')
      .map((name) => ({ host: description.host, port: topology.port(name) })),
    masterName: description.masterName,
    tls: description.tls
      ? {
          caFile: description.tls.caFile,
          certFile: description.tls.certFile,
          keyFile: description.tls.keyFile,
        }
      : false,
    ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
    ...extra,
  };
}
