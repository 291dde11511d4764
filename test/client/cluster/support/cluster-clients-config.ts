import type { ClusterClientsConfig } from '../../../../client/connection/config.js';
import type { ClusterTopologyDescription } from '../../../../stack/cluster-topology.js';

/**
 * The client config an app would write for a test cluster: its nodes as
 * seeds, its TLS files (client certificate included), and the `app` ACL user.
 */
export function clusterClientsConfig(
  description: ClusterTopologyDescription,
  extra: Partial<ClusterClientsConfig> = {},
): ClusterClientsConfig {
  const credentials = description.users?.app;
  const tls = description.tls;
  return {
    cluster: { nodes: description.nodes.map((n) => `${n.host}:${n.port}`) },
    tls: tls ? { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } : false,
    ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
    ...extra,
  };
}
