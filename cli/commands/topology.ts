import { join } from 'node:path';
import type { Command } from 'commander';
import type { ClusterTopologyDescription } from '../../stack/cluster-topology.js';
import type { TopologyDescription } from '../../stack/topology.js';
import type { CliIo } from '../program.js';
import { runUntilSignal } from '../until-signal.js';

/**
 * `redscope topology`: a master, two replicas and three Sentinels on loopback
 * until Ctrl-C; with `--cluster`, a Redis Cluster of 3 masters and 3 replicas.
 */
export function registerTopologyCommand(program: Command, io: CliIo): void {
  program
    .command('topology')
    .description(
      'run a Redis master, 2 replicas and 3 Sentinels (TLS) on loopback until Ctrl-C; --cluster: a Redis Cluster',
    )
    .option('--plain', 'plain TCP instead of TLS (for quick local experiments only)')
    .option('--cluster', 'a Redis Cluster instead: 3 masters, 3 replicas (TLS, ACL users)')
    .action(async (options: { plain?: boolean; cluster?: boolean }) => {
      const log = (message: string) => io.err(`${message}\n`);
      if (options.cluster) {
        const { ClusterTopology } = await import('../../stack/cluster-topology.js');
        await runUntilSignal(
          () => ClusterTopology.start({ tls: !options.plain, log }),
          (cluster) => printCluster(cluster.describe(), io),
          log,
        );
        return;
      }
      const { RedisTopology } = await import('../../stack/topology.js');
      await runUntilSignal(
        () => RedisTopology.start({ tls: !options.plain, log }),
        (topology) => printTopology(topology.describe(), io),
        log,
      );
    });
}

function printCluster(description: ClusterTopologyDescription, io: CliIo): void {
  const { nodes, tls, users, auth, dir } = description;
  io.out('Redis Cluster (roles at start; failovers change them)\n');
  for (const node of nodes) {
    const pid = node.pid === undefined ? '' : `  pid ${node.pid}`;
    io.out(`${node.name.padEnd(11)} ${node.role.padEnd(8)} ${node.host}:${node.port}${pid}\n`);
  }
  const secrets = join(dir, 'secrets');
  const seeds = nodes.slice(0, 3).map((node) => `'${node.host}:${node.port}'`);
  const app = users?.app;
  io.out(
    `client:      createRedisClients({ cluster: { nodes: [${seeds.join(', ')}] }` +
      `${app ? `, username: '${app.username}', password: <${join(secrets, `${app.username}.password`)}>` : ''}` +
      `${tls ? ', tls: { caFile, certFile, keyFile } }' : ', tls: false }'})\n`,
  );
  printAccess(io, { dir, users, auth, tls }, `-c -p ${nodes[0]?.port} cluster info`);
}

function printTopology(description: TopologyDescription, io: CliIo): void {
  const { tls, nodes, masterName, host, users, auth, dir } = description;
  io.out(`master name: ${masterName}\n`);
  for (const node of nodes) {
    const pid = node.pid === undefined ? '' : `  pid ${node.pid}`;
    io.out(`${node.name.padEnd(11)} ${node.role.padEnd(8)} ${host}:${node.port}${pid}\n`);
  }
  const secrets = join(dir, 'secrets');
  // The app's own ACL user, in the shape createRedisClients takes: what an app would configure.
  const sentinels = nodes
    .filter((node) => node.role === 'sentinel')
    .map((node) => `'${host}:${node.port}'`);
  const app = users?.app;
  io.out(
    `client:      createRedisClients({ sentinels: [${sentinels.join(', ')}], masterName: '${masterName}'` +
      `${app ? `, username: '${app.username}', password: <${join(secrets, `${app.username}.password`)}>` : ''}` +
      `${tls ? `, tls: { caFile, certFile, keyFile } }` : ', tls: false }'})\n`,
  );
  printAccess(io, { dir, users, auth, tls }, `-p ${nodes[0]?.port} info replication`);
}

/** Where the secrets and certificates are, and a redis-cli line that works. */
function printAccess(
  io: CliIo,
  { dir, users, auth, tls }: Pick<TopologyDescription, 'dir' | 'users' | 'auth' | 'tls'>,
  redisCliArgs: string,
): void {
  const secrets = join(dir, 'secrets');
  if (users) {
    io.out(`ACL users:   ${Object.keys(users).join(', ')}; passwords (0600) in ${secrets}\n`);
  }
  if (tls) {
    io.out(
      `CA:          ${tls.caFile}\nclient cert: ${tls.certFile}\nclient key:  ${tls.keyFile}\n`,
    );
  }
  // REDISCLI_AUTH keeps the password out of the process list (ps shows --pass).
  const passwordFile = auth ? join(secrets, `${auth.username}.password`) : '';
  const env = auth ? `REDISCLI_AUTH="$(cat ${passwordFile})" ` : '';
  const login = auth ? ` --user ${auth.username}` : '';
  const tlsArgs = tls
    ? ` --tls --cacert ${tls.caFile} --cert ${tls.certFile} --key ${tls.keyFile}`
    : '';
  io.out(`try:         ${env}redis-cli${tlsArgs}${login} ${redisCliArgs}\n`);
  io.out('Ctrl-C stops every process.\n');
}
