import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { type HttpService, startHttpService } from './http-service.js';

export interface AlertmanagerOptions {
  readonly configFile: string;
  /** Folder for silences, the notification log and the process output. */
  readonly dir: string;
  readonly port: number;
  readonly host?: string;
  /** The process output (default: `<dir>/<name>.out`). */
  readonly outputFile?: string;
}

/**
 * Starts the real Alertmanager binary on loopback, clustering off (a single
 * local instance must not gossip on a fixed port); resolves once /-/ready answers.
 */
export function startAlertmanager(options: AlertmanagerOptions): Promise<HttpService> {
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host}:${options.port}`;
  return startHttpService({
    name: 'alertmanager',
    command: requireBinary('prometheus-alertmanager'),
    args: [
      `--config.file=${options.configFile}`,
      `--storage.path=${join(options.dir, 'alertmanager-data')}`,
      `--web.listen-address=${host}:${options.port}`,
      `--web.external-url=${url}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    dir: options.dir,
    ...(options.outputFile ? { outputFile: options.outputFile } : {}),
    url,
    readyPath: '/-/ready',
  });
}
