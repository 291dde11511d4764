import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { type HttpService, startHttpService } from './http-service.js';

export interface PrometheusOptions {
  /** A prometheus.yml whose rule_files resolve from its own folder or absolute paths. */
  readonly configFile: string;
  /** Folder for the TSDB and the process output. */
  readonly dir: string;
  readonly port: number;
  readonly host?: string;
  /** The process output (default: `<dir>/<name>.out`). */
  readonly outputFile?: string;
}

/** Starts the real `prometheus` binary on loopback; resolves once /-/ready answers. */
export function startPrometheus(options: PrometheusOptions): Promise<HttpService> {
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host}:${options.port}`;
  return startHttpService({
    name: 'prometheus',
    command: requireBinary('prometheus'),
    args: [
      `--config.file=${options.configFile}`,
      `--storage.tsdb.path=${join(options.dir, 'tsdb')}`,
      `--web.listen-address=${host}:${options.port}`,
      `--web.external-url=${url}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    dir: options.dir,
    ...(options.outputFile ? { outputFile: options.outputFile } : {}),
    url,
    readyPath: '/-/ready',
  });
}
