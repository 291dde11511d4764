import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { RotationPhase, TlsFiles } from '../../stack/certificate-rotation.js';
import { UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';

interface RotateOptions {
  plan: string;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  clientCa?: string;
  clientCert?: string;
  clientKey?: string;
}

/**
 * `redscope rotate-certs`: one rotation phase on a live topology. Data nodes
 * take the new files by CONFIG SET + CONFIG REWRITE, Sentinels are restarted
 * one at a time with the quorum checked before and their rejoin after.
 * docs/tls.md says which phases a renewal and a CA change need.
 */
export function registerRotateCertsCommand(program: Command, io: CliIo): void {
  program
    .command('rotate-certs')
    .description('apply new TLS files to every node of a live topology without dropping clients')
    .requiredOption(
      '--plan <file>',
      'YAML plan: nodes, admin credentials, Sentinel restart command',
    )
    .option('--cert-file <path>', 'new tls-cert-file on the nodes ({name} = node name)')
    .option('--key-file <path>', 'new tls-key-file on the nodes ({name} = node name)')
    .option(
      '--ca-file <path>',
      'new tls-ca-cert-file on the nodes (a CA bundle during a CA change)',
    )
    .option(
      '--client-ca <file>',
      "CA (bundle) this tool trusts (default: the plan's client.caFile)",
    )
    .option('--client-cert <file>', "this tool's client certificate (default: the plan's)")
    .option('--client-key <file>', "this tool's client key (default: the plan's)")
    .action(async (options: RotateOptions) => {
      if (!options.certFile && !options.keyFile && !options.caFile) {
        throw new UsageError('rotate-certs: give --cert-file and --key-file, --ca-file, or both');
      }
      if (Boolean(options.certFile) !== Boolean(options.keyFile)) {
        throw new UsageError('rotate-certs: --cert-file and --key-file go together');
      }
      // Loaded on use: `redscope exporter` should not pay for the rotation code.
      const { rotateCertificates } = await import('../../stack/certificate-rotation.js');
      const { loadRotationPlan, perNode, planRotationTarget, RotationPlanError } = await import(
        '../../stack/rotation-plan.js'
      );
      let plan: ReturnType<typeof loadRotationPlan>;
      try {
        plan = loadRotationPlan(options.plan);
      } catch (error) {
        if (error instanceof RotationPlanError)
          throw new UsageError(`rotate-certs: ${error.message}`);
        throw error;
      }
      const toolTls: TlsFiles = {
        caFile: options.clientCa ?? plan.client.caFile,
        certFile: options.clientCert ?? plan.client.certFile,
        keyFile: options.clientKey ?? plan.client.keyFile,
      };
      for (const [flag, file] of Object.entries(toolTls)) {
        if (!existsSync(file)) throw new UsageError(`rotate-certs: ${flag} ${file} does not exist`);
      }
      const phase: RotationPhase = {
        name: options.caFile && !options.certFile ? 'new CA file' : 'new certificates',
        toolTls,
        update: (node) => ({
          ...(options.certFile ? { certFile: perNode(options.certFile, node) } : {}),
          ...(options.keyFile ? { keyFile: perNode(options.keyFile, node) } : {}),
          ...(options.caFile ? { caFile: perNode(options.caFile, node) } : {}),
        }),
      };
      await rotateCertificates(planRotationTarget(plan), [phase], {
        log: (message) => io.out(`${message}\n`),
      });
      io.out(
        `done: ${plan.dataNodes.length} data nodes and ${plan.sentinels.length} Sentinels use the new files\n`,
      );
    });
}
