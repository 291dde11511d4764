import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NodeStartError } from './errors.js';
import { SupervisedProcess, tailOf } from './processes.js';

/** A server binary we start and reach over HTTP (Prometheus, Alertmanager, the exporter). */
export interface HttpService {
  readonly name: string;
  readonly url: string;
  readonly process: SupervisedProcess;
  stop(): Promise<void>;
}

export interface HttpServiceSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The service's working folder, and where its output goes unless `outputFile` says otherwise. */
  readonly dir: string;
  /** stdout and stderr of the service (default `<dir>/<name>.out`). */
  readonly outputFile?: string;
  /** Base URL the service will answer on, e.g. http://127.0.0.1:9090. */
  readonly url: string;
  /** Path that answers 200 once the service is ready (e.g. `/-/ready`). */
  readonly readyPath: string;
  readonly timeoutMs?: number;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a server binary and resolves once its readiness path answers 200. Fails
 * fast, with the tail of the service's output, when the process exits first or
 * the deadline passes; the process is stopped in both cases.
 */
export async function startHttpService(spec: HttpServiceSpec): Promise<HttpService> {
  mkdirSync(spec.dir, { recursive: true });
  const outputFile = spec.outputFile ?? join(spec.dir, `${spec.name}.out`);
  const process = new SupervisedProcess({
    name: spec.name,
    command: spec.command,
    args: spec.args,
    cwd: spec.dir,
    outputFile,
  });
  const fail = (reason: string) => new NodeStartError(spec.name, reason, tailOf([outputFile]));
  try {
    await process.start();
  } catch (error) {
    throw fail(`could not spawn ${spec.command}: ${String(error)}`);
  }
  const deadline = Date.now() + (spec.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (!process.running)
      throw fail(`exited with code ${await process.waitForExit()} while starting`);
    try {
      const response = await fetch(new URL(spec.readyPath, spec.url), {
        signal: AbortSignal.timeout(1000),
      });
      if (response.ok) {
        return { name: spec.name, url: spec.url, process, stop: () => process.stop() };
      }
    } catch {
      // not listening yet
    }
    await delay(100);
  }
  await process.stop();
  throw fail(`${spec.url}${spec.readyPath} did not answer 200 in time`);
}
