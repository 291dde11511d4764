/**
 * Running a deploy/railway layout on this machine: every service announces
 * `localhost` with its own port (Railway gives each its own name on port
 * 6379/26379), certificates name `localhost`, and the processes are the
 * entrypoint exec'ing Redis, exactly as on Railway.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type { SupervisedProcess } from '../../../stack/processes.js';
import { packageRoot } from '../../../stack/repo-paths.js';
import { type Layout, localDirs, RAILWAY_DIR, serviceProcess } from './railway-layout.js';

export const LOOPBACK = 'localhost';
/**
 * Sentinels are reached at this address instead: on Railway the exporter's
 * credentials pattern tells data nodes from Sentinels by port (6379, 26379);
 * here, with a port per service, by name.
 */
export const SENTINEL_HOST = '127.0.0.1';

/** A started service: its process, port and folders. */
export interface LoopbackService {
  readonly name: string;
  readonly port: number;
  readonly process: SupervisedProcess;
  readonly env: Record<string, string>;
  /** Runs the entrypoint again (a Railway restart or redeploy: same variables, same volume). */
  restart(): Promise<void>;
}

export async function startService(
  layout: Layout,
  root: string,
  name: string,
  port: number,
  extra: Record<string, string> = {},
): Promise<LoopbackService> {
  const env = layout.env(name, {
    ...localDirs(root, name),
    REDSCOPE_PORT: String(port),
    ...extra,
  });
  mkdirSync(join(root, name), { recursive: true });
  const process = serviceProcess(name, env, join(root, name, 'output.log'));
  await process.start();
  return {
    name,
    port,
    process,
    env,
    async restart() {
      await process.start();
    },
  };
}

/** An admin connection to a data node (or a connection to a Sentinel), over TLS with the app's certificate. */
export function nodeClient(layout: Layout, port: number, sentinel = false): Redis {
  const app = layout.certificates.files.find((f) => f.service === 'app');
  const client = new Redis({
    host: sentinel ? SENTINEL_HOST : LOOPBACK,
    port,
    tls: {
      ca: readFileSync(layout.certificates.caFile),
      cert: readFileSync(app?.certFile ?? ''),
      key: readFileSync(app?.keyFile ?? ''),
    },
    ...(sentinel ? {} : { username: 'admin', password: layout.passwords.admin }),
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    lazyConnect: true,
  });
  client.on('error', () => undefined);
  return client;
}

/** Runs `fn` on a fresh connection to `port`, closed afterwards. */
export async function onNode<T>(
  layout: Layout,
  port: number,
  fn: (client: Redis) => Promise<T>,
  sentinel = false,
): Promise<T> {
  const client = nodeClient(layout, port, sentinel);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** `INFO <section>` as a map. */
export async function info(client: Redis, section: string): Promise<Map<string, string>> {
  const text = (await client.info(section)) as string;
  return new Map(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]),
  );
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true, or throws naming `what` with the last error. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await delay(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last})` : ''}`);
}

/**
 * The exporter as its Railway service starts it: the start command of
 * exporter.railway.json run by /bin/sh, with `node bin/redscope.js` being this
 * checkout's CLI from source. Two substitutions, both of names only: its
 * secrets folder (/tmp/redscope, in a scratch folder so runs do not collide)
 * and the credentials pattern's host (`*.railway.internal` is `localhost` here).
 */
export function exporterStartCommand(scratch: string): {
  script: string;
  cwd: string;
  secretsDir: string;
} {
  const config = JSON.parse(readFileSync(join(RAILWAY_DIR, 'exporter.railway.json'), 'utf8'));
  const original = /^\/bin\/sh -c "([^"]*)"$/.exec(config.deploy.startCommand)?.[1];
  if (!original)
    throw new Error('exporter.railway.json: the start command is not /bin/sh -c "..."');
  const secretsDir = join(scratch, 'exporter-secrets');
  const cwd = join(scratch, 'exporter-root');
  mkdirSync(join(cwd, 'bin'), { recursive: true });
  // What bin/redscope.js is in the image, from the TypeScript sources.
  const entry = join(packageRoot(), 'test', 'exporter', 'support', 'cli-entry.ts');
  writeFileSync(join(cwd, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(cwd, 'bin', 'redscope.js'),
    `await import(${JSON.stringify(pathToFileURL(entry).href)});\n`,
  );
  const script = original
    .replaceAll('/tmp/redscope', secretsDir)
    .replaceAll('rediss://*.railway.internal:6379', `rediss://${LOOPBACK}:*`);
  return { script, cwd, secretsDir };
}

/** Starts the exporter start command with `env`; resolves once /healthz answers. */
export async function startRailwayExporter(
  scratch: string,
  env: Record<string, string>,
  listenPort: number,
): Promise<{ url: string; stop(): Promise<void>; output(): string }> {
  const { script, cwd, secretsDir } = exporterStartCommand(scratch);
  const tsx = pathToFileURL(join(packageRoot(), 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const fixed = Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, v.replaceAll('/tmp/redscope', secretsDir)]),
  );
  let output = '';
  const child = spawn('/bin/sh', ['-c', script], {
    cwd,
    env: {
      PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}`,
      ...fixed,
      REDSCOPE_LISTEN: `127.0.0.1:${listenPort}`,
      REDSCOPE_LOG_LEVEL: 'warn',
      NODE_OPTIONS: `--import=${tsx}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-(child.pid ?? 0), 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([exited, delay(3000)]);
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const url = `http://127.0.0.1:${listenPort}`;
  try {
    await until(
      'the exporter to answer /healthz',
      async () => {
        if (child.exitCode !== null) throw new Error(`the exporter exited: ${output}`);
        return (await fetch(`${url}/healthz`)).ok;
      },
      20_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop, output: () => output };
}
