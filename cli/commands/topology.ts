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
  const { tls, nodes, masterName } = description;
  const scheme = tls ? 'rediss' : 'redis';
  io.out(`master name: ${masterName}\n`);
  for (const node of nodes)
    io.out(`${node.name.padEnd(11)} ${node.role.padEnd(8)} ${scheme}://127.0.0.1:${node.port}\n`);
  const { auth, dir } = description;
  // REDISCLI_AUTH keeps the password out of the process list (ps shows --pass).
  const passwordFile = auth ? join(dir, 'secrets', `${auth.username}.password`) : '';
  const env = auth ? `REDISCLI_AUTH="$(cat ${passwordFile})" ` : '';
  const login = auth ? ` --user ${auth.username}` : '';
  if (auth) io.out(`ACL users:   passwords (0600) in ${join(dir, 'secrets')}\n`);
  if (tls) {
    io.out(
      `CA:          ${tls.caFile}\nclient cert: ${tls.certFile}\nclient key:  ${tls.keyFile}\n`,
    );
  }
  const tlsArgs = tls
    ? ` --tls --cacert ${tls.caFile} --cert ${tls.certFile} --key ${tls.keyFile}`
    : '';
  io.out(`try:         ${env}redis-cli${tlsArgs}${login} -p ${nodes[0]?.port} info replication\n`);
  io.out('Ctrl-C stops every process.\n');
}
