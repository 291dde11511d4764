import type { RedisClientsConfig } from '../client/index.js';
import type { RedisTopology, TopologyDescription } from './topology.js';

/**
 * A client config for a launcher topology as an app would have it: the Sentinel
 * list, the CA and client certificate files, and the `app` ACL user when the
 * topology runs with ACL. Built from describe(), so it follows whatever
 * credentials and TLS files the launcher hands out; a description alone (the
 * shared test topology) works as well.
 */
export function clientsConfigFor(
  topology: RedisTopology | TopologyDescription,
  extra: Partial<RedisClientsConfig> = {},
): RedisClientsConfig {
  const description = 'describe' in topology ? topology.describe() : topology;
  const credentials = description.users?.app ?? description.auth;
  return {
    sentinels: description.nodes
      .filter((node) => node.role === 'sentinel')
      .map((node) => ({ host: node.host, port: node.port })),
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
