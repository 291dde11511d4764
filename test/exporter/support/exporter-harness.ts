import { Writable } from 'node:stream';
import { type ConfigSources, loadExporterConfig } from '../../../exporter/config.js';
import { createExporterLogger } from '../../../exporter/logger.js';
import { type RunningExporter, startExporter } from '../../../exporter/server.js';

export interface TestExporter {
  readonly url: string;
  readonly running: RunningExporter;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  get(
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; ms: number }>;
  close(): Promise<void>;
}

/** An exporter in this process on a free loopback port, logging into memory. */
export async function startTestExporter(
  flags: ConfigSources['flags'],
  env: ConfigSources['env'] = {},
): Promise<TestExporter> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = loadExporterConfig({ flags: { listen: '127.0.0.1:0', ...flags }, env });
  const running = await startExporter(config, createExporterLogger('debug', sink));
  return {
    url: running.url,
    running,
    logs,
    async get(path, headers = {}) {
      const started = performance.now();
      const response = await fetch(`${running.url}${path}`, { headers });
      const text = await response.text();
      return { status: response.status, text, ms: performance.now() - started };
    },
    close: () => running.close(),
  };
}
