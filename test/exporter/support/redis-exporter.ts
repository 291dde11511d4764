import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../../../stack/binaries.js';
import { freePort } from '../../../stack/ports.js';
import { SupervisedProcess, tailOf } from '../../../stack/processes.js';
import type { TopologyDescription } from '../../../stack/topology.js';

/** The reference: prometheus-redis-exporter 1.45, on a free loopback port. */
export interface ReferenceExporter {
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export async function startRedisExporter(
  /** Its TLS files, when the targets speak TLS (a Sentinel topology or a cluster). */
  topology: Pick<TopologyDescription, 'tls'>,
  redisAddr: string,
  extraArgs: readonly string[] = [],
): Promise<ReferenceExporter> {
  const binary = requireBinary('prometheus-redis-exporter');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redscope-redis-exporter-'));
  const tls = topology.tls
    ? [
        '-tls-ca-cert-file',
        topology.tls.caFile,
        '-tls-client-cert-file',
        topology.tls.certFile,
        '-tls-client-key-file',
        topology.tls.keyFile,
      ]
    : [];
  const process = new SupervisedProcess({
    name: 'redis_exporter',
    command: binary,
    args: [
      '-redis.addr',
      redisAddr,
      '-web.listen-address',
      `127.0.0.1:${port}`,
      ...tls,
      ...extraArgs,
    ],
    outputFile: join(dir, 'out.log'),
  });
  await process.start();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (!process.running || Date.now() > deadline) {
      await process.stop();
      throw new Error(`redis_exporter did not start: ${tailOf([join(dir, 'out.log')])}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    get pid() {
      return process.pid;
    },
    async stop() {
      await process.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
