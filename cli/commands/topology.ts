import { join } from 'node:path';
import type { Command } from 'commander';
import type { TopologyDescription } from '../../stack/topology.js';
import type { CliIo } from '../program.js';
import { runUntilSignal } from '../until-signal.js';

/** `redscope topology`: a master, two replicas and three Sentinels on loopback until Ctrl-C. */
export function registerTopologyCommand(program: Command, io: CliIo): void {
  program
    .command('topology')
    .description('run a Redis master, 2 replicas and 3 Sentinels (TLS) on loopback until Ctrl-C')
    .option('--plain', 'plain TCP instead of TLS (for quick local experiments only)')
    .action(async (options: { plain?: boolean }) => {
      const { RedisTopology } = await import('../../stack/topology.js');
      const log = (message: string) => io.err(`${message}\n`);
      await runUntilSignal(
        () => RedisTopology.start({ tls: !options.plain, log }),
        (topology) => printTopology(topology.describe(), io),
        log,
      );
    });
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
  io.out(`try:         ${env}redis-cli${tlsArgs}${login} -p ${nodes[0]?.port} info replication\n`);
  io.out('Ctrl-C stops every process.\n');
}
