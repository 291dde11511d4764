/**
 * The rotation plan of a real deployment (`redscope rotate-certs --plan FILE`):
 * which nodes, the admin credentials, the rotation tool's own TLS, and the
 * command that applies new TLS files to a Sentinel and restarts it. Parsed and
 * checked once here; everything after works on typed values.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis } from 'ioredis';
import { load } from 'js-yaml';
import { secretFromFileText } from '../exporter/secret-file.js';
import type { RotationNode, RotationTarget, TlsFiles, TlsUpdate } from './certificate-rotation.js';

export interface RotationPlan {
  readonly masterName: string;
  readonly admin: { readonly username: string; readonly password: string };
  readonly client: TlsFiles;
  readonly dataNodes: readonly RotationNode[];
  readonly sentinels: readonly RotationNode[];
  readonly sentinelRestartCommand: string;
}

/** The plan file is missing, unreadable or wrong; the message names the field. */
export class RotationPlanError extends Error {
  override readonly name = 'RotationPlanError';
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function text(from: Json, key: string, where: string): string {
  const value = from[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new RotationPlanError(`${where}.${key} must be a non-empty string`);
  }
  return value;
}

function readable(file: string, where: string): string {
  if (!existsSync(file)) throw new RotationPlanError(`${where}: file ${file} does not exist`);
  return file;
}

function nodesOf(plan: Json, key: 'dataNodes' | 'sentinels'): RotationNode[] {
  const list = plan[key];
  if (!Array.isArray(list) || list.length === 0) {
    throw new RotationPlanError(`${key} must list at least one node ({ name, host, port })`);
  }
  return list.map((entry, index) => {
    const where = `${key}[${index}]`;
    if (!isObject(entry)) throw new RotationPlanError(`${where} must be { name, host, port }`);
    const port = entry.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RotationPlanError(`${where}.port must be a port number (1-65535)`);
    }
    return {
      name: text(entry, 'name', where),
      host: text(entry, 'host', where),
      port,
      kind: key === 'dataNodes' ? 'data' : 'sentinel',
    };
  });
}

/** Reads and checks a plan file (YAML or JSON). Reads the admin password from its file. */
export function loadRotationPlan(file: string): RotationPlan {
  let parsed: unknown;
  try {
    parsed = load(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new RotationPlanError(`cannot read the plan ${file}: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw new RotationPlanError(`the plan ${file} must be a YAML mapping`);
  const admin = parsed.admin;
  if (!isObject(admin)) throw new RotationPlanError('admin must be { username, passwordFile }');
  const passwordFile = readable(text(admin, 'passwordFile', 'admin'), 'admin.passwordFile');
  const client = parsed.client;
  if (!isObject(client))
    throw new RotationPlanError('client must be { caFile, certFile, keyFile }');
  return {
    masterName: text(parsed, 'masterName', 'plan'),
    admin: {
      username: text(admin, 'username', 'admin'),
      password: secretFromFileText(readFileSync(passwordFile, 'utf8')),
    },
    client: {
      caFile: readable(text(client, 'caFile', 'client'), 'client.caFile'),
      certFile: readable(text(client, 'certFile', 'client'), 'client.certFile'),
      keyFile: readable(text(client, 'keyFile', 'client'), 'client.keyFile'),
    },
    dataNodes: nodesOf(parsed, 'dataNodes'),
    sentinels: nodesOf(parsed, 'sentinels'),
    sentinelRestartCommand: text(parsed, 'sentinelRestartCommand', 'plan'),
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Drives real nodes: admin connections to data nodes, the plan's command to restart Sentinels. */
export function planRotationTarget(plan: RotationPlan): RotationTarget {
  const connect = (node: RotationNode, tls: TlsFiles): Redis => {
    const client = new Redis({
      host: node.host,
      port: node.port,
      // Both address families: a plan's host names may have only an AAAA record (Railway).
      family: 0,
      tls: {
        ca: readFileSync(tls.caFile),
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
        // SNI takes host names only; for an IP the certificate's IP SAN is checked.
        ...(isIP(node.host) === 0 ? { servername: node.host } : {}),
      },
      ...(node.kind === 'data' ? plan.admin : {}),
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: 3000,
      commandTimeout: 10_000,
    });
    client.on('error', () => undefined);
    return client;
  };
  return {
    masterName: plan.masterName,
    dataNodes: plan.dataNodes,
    sentinels: plan.sentinels,
    connect,
    async restartSentinel(node: RotationNode, update: TlsUpdate, tls: TlsFiles) {
      await runRestartCommand(plan.sentinelRestartCommand, node, update);
      // The command returned; wait until the Sentinel answers again (rejoin is checked after).
      const deadline = Date.now() + 30_000;
      let last = '';
      while (Date.now() < deadline) {
        const client = connect(node, tls);
        try {
          if ((await client.ping()) === 'PONG') return;
        } catch (error) {
          last = (error as Error).message;
        } finally {
          client.disconnect();
        }
        await delay(200);
      }
      throw new Error(`it did not answer PING within 30 s after the restart command (${last})`);
    },
  };
}

function runRestartCommand(command: string, node: RotationNode, update: TlsUpdate): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDSCOPE_NODE: node.name,
    REDSCOPE_HOST: node.host,
    REDSCOPE_PORT: String(node.port),
  };
  if (update.certFile) env.REDSCOPE_TLS_CERT_FILE = update.certFile;
  if (update.keyFile) env.REDSCOPE_TLS_KEY_FILE = update.keyFile;
  if (update.caFile) env.REDSCOPE_TLS_CA_CERT_FILE = update.caFile;
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else {
        const how = code === null ? `was killed by ${signal}` : `exited with ${code}`;
        reject(new Error(`the restart command ${how}: ${stderr.trim() || '(no output)'}`));
      }
    });
  });
}

/** Replaces `{name}` in a path with the node's name (per-node certificate files). */
export function perNode(path: string | undefined, node: RotationNode): string | undefined {
  return path?.replaceAll('{name}', node.name);
}
