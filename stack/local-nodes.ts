import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import {
  ACL_USERS,
  type AclPasswords,
  type AclUser,
  ADMIN_USER,
  type Credentials,
  USERNAMES,
} from './acl.js';
import type { TopologyCertificates } from './certificates.js';
import { NodeStartError, TopologyNotReadyError } from './errors.js';
import { SupervisedProcess, tailOf } from './processes.js';
import { type ConfigOverrides, renderRedisConfig } from './redis-config.js';

/** A node of a local topology: a Redis or Sentinel process with its files. */
export interface LocalNode<Role extends string> {
  readonly name: string;
  readonly role: Role;
  /** What clients dial: an IP, or a name in a hostname topology. */
  readonly host: string;
  readonly port: number;
  readonly configFile: string;
  readonly logFile: string;
  readonly process: SupervisedProcess;
}

export interface ClientTlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What the Sentinel topology and the Cluster topology share: Redis processes
 * on loopback, each with its rendered config, started and supervised, reached
 * with the topology's TLS files and admin user, and faulted on demand (kill,
 * pause, restart). Subclasses decide which nodes exist and when they are ready.
 */
export abstract class LocalNodes<Role extends string> {
  protected readonly nodes = new Map<string, LocalNode<Role>>();
  protected passwords: AclPasswords | undefined;
  /** Nodes killed on purpose: waits do not treat their death as a failure. */
  private readonly killed = new Set<string>();
  private stopped = false;
  private clientTls: ClientTlsFiles | undefined;

  protected constructor(
    readonly dir: string,
    readonly certificates: TopologyCertificates | undefined,
    /** An address that reaches every node's port. */
    protected readonly sharedHost: string,
    protected readonly startTimeoutMs: number,
  ) {}

  /** Whether a node takes the data nodes' credentials (Sentinels take none). */
  protected takesCredentials(_node: LocalNode<Role>): boolean {
    return true;
  }

  protected addNode(
    node: { name: string; role: Role; host: string; port: number },
    binary: string,
    template: string,
    overrides: ConfigOverrides,
  ): void {
    const { name, role, host, port } = node;
    const nodeDir = join(this.dir, name);
    rmSync(nodeDir, { recursive: true, force: true });
    const configFile = join(this.dir, `${name}.conf`);
    writeFileSync(configFile, renderRedisConfig(template, overrides));
    // The log the node really writes: the `logfile` directive, when the caller set one.
    const logFile = overrides.logfile ?? join(nodeDir, 'redis.log');
    const process = new SupervisedProcess({
      name,
      command: binary,
      args: [configFile],
      cwd: this.dir,
      outputFile: join(this.dir, `${name}.out`),
      logFiles: [join(this.dir, `${name}.out`), logFile],
    });
    this.nodes.set(name, { name, role, host, port, configFile, logFile, process });
  }

  protected byRole(...roles: Role[]): LocalNode<Role>[] {
    return [...this.nodes.values()].filter((n) => roles.includes(n.role));
  }

  protected node(name: string): LocalNode<Role> {
    const node = this.nodes.get(name);
    if (!node)
      throw new Error(`no node named ${name}; nodes: ${[...this.nodes.keys()].join(', ')}`);
    return node;
  }

  protected failure(node: LocalNode<Role>, reason: string): NodeStartError {
    return new NodeStartError(node.name, reason, tailOf(node.process.spec.logFiles ?? []));
  }

  /** Starts one node and waits until it answers PING, or fails fast when it exits. */
  protected async launch(node: LocalNode<Role>, deadline: number): Promise<void> {
    mkdirSync(join(this.dir, node.name), { recursive: true });
    try {
      await node.process.start();
    } catch (error) {
      throw this.failure(node, `could not spawn ${node.process.spec.command}: ${String(error)}`);
    }
    const exited = node.process.waitForExit().then((code) => {
      throw this.failure(node, `exited with code ${code} while starting`);
    });
    exited.catch(() => undefined);
    const answering = (async () => {
      while (Date.now() < deadline) {
        if (!node.process.running) return;
        if (await this.pings(node.port)) return;
        await delay(50);
      }
      throw this.failure(node, `did not answer PING on port ${node.port} in time`);
    })();
    await Promise.race([answering, exited]);
    if (!node.process.running) await exited;
  }

  private async pings(port: number): Promise<boolean> {
    const client = this.connect(port, { connectTimeout: 500, commandTimeout: 500 });
    try {
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }

  /** Polls `check` until it is true, failing early (with its log) when a started node died. */
  protected async waitUntil(
    what: string,
    deadline: number,
    check: () => Promise<boolean>,
  ): Promise<void> {
    let lastError = '';
    while (Date.now() < deadline) {
      for (const node of this.nodes.values()) {
        if (node.process.hasStarted && !node.process.running && !this.killed.has(node.name)) {
          throw this.failure(node, `exited while waiting for ${what}`);
        }
      }
      try {
        if (await check()) return;
      } catch (error) {
        lastError = String(error);
      }
      await delay(100);
    }
    throw new TopologyNotReadyError(
      `timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`,
    );
  }

  protected async query<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.connect(port, { connectTimeout: 1000, commandTimeout: 1000 });
    try {
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }

  /**
   * ioredis options that reach this topology's data nodes: TLS with the
   * topology's CA and client certificate (or plain TCP), and the `admin` user's
   * credentials when ACL is on.
   */
  connectionOptions(): RedisOptions {
    const options: RedisOptions = {
      host: this.sharedHost,
      lazyConnect: false,
      maxRetriesPerRequest: 1,
    };
    const tls = this.clientTlsFiles();
    if (tls) {
      options.tls = {
        ca: readFileSync(tls.caFile),
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
      };
    }
    if (this.passwords) {
      options.username = ADMIN_USER;
      options.password = this.passwords[ADMIN_USER];
    }
    return options;
  }

  /**
   * The CA bundle and client certificate that connectionOptions() and describe()
   * hand out. Certificate rotation switches them (after the servers trust the new CA).
   */
  useClientTls(files: ClientTlsFiles): void {
    this.clientTls = files;
  }

  protected clientTlsFiles(): ClientTlsFiles | undefined {
    if (this.clientTls) return this.clientTls;
    if (!this.certificates) return undefined;
    const { ca, client } = this.certificates;
    return { caFile: ca.certFile, certFile: client.certFile, keyFile: client.keyFile };
  }

  /**
   * A one-shot client for `port` with this topology's TLS settings, and the admin
   * credentials unless the port is a Sentinel's. Callers disconnect it.
   */
  connect(port: number, extra: RedisOptions = {}): Redis {
    const { username, password, ...options } = this.connectionOptions();
    const node = [...this.nodes.values()].find((n) => n.port === port);
    const credentials = node === undefined || this.takesCredentials(node);
    const client = new Redis({
      ...options,
      ...(credentials ? { username, password } : {}),
      host: node?.host ?? this.sharedHost,
      port,
      retryStrategy: () => null,
      enableOfflineQueue: true,
      // No CLIENT SETINFO: Redis 7.0 answers it with an error, which would show in
      // the errorstats that tests read to prove the exporter provokes none.
      disableClientInfo: true,
      ...extra,
    });
    // Errors surface through the command promises; without a listener ioredis would also print them.
    client.on('error', () => undefined);
    return client;
  }

  /** Every node as plain data, with its pid when running. */
  protected describeNodes(): {
    name: string;
    role: Role;
    host: string;
    port: number;
    pid?: number;
  }[] {
    return [...this.nodes.values()].map(({ name, role, host, port, process }) => ({
      name,
      role,
      host,
      port,
      ...(process.pid !== undefined ? { pid: process.pid } : {}),
    }));
  }

  /** The client TLS files and, with ACL on, every user's credentials (`auth` is the admin's). */
  protected describeAccess(): {
    tls?: ClientTlsFiles;
    auth?: Credentials;
    users?: Readonly<Record<AclUser, Credentials>>;
  } {
    const tls = this.clientTlsFiles();
    const passwords = this.passwords;
    return {
      ...(tls ? { tls } : {}),
      ...(passwords
        ? {
            auth: { username: ADMIN_USER, password: passwords[ADMIN_USER] },
            users: Object.fromEntries(
              ACL_USERS.map((user) => [
                user,
                { username: USERNAMES[user], password: passwords[user] },
              ]),
            ) as Record<AclUser, Credentials>,
          }
        : {}),
    };
  }

  /** Address of a node by name. */
  host(name: string): string {
    return this.node(name).host;
  }

  port(name: string): number {
    return this.node(name).port;
  }

  /** Names of the nodes with the given role at start (roles change on failover). */
  names(role: Role): string[] {
    return this.byRole(role).map((n) => n.name);
  }

  pid(name: string): number | undefined {
    return this.node(name).process.pid;
  }

  /** kill -9 a node. */
  kill(name: string): Promise<void> {
    this.killed.add(name);
    return this.node(name).process.kill();
  }

  /** SIGSTOP a node: it keeps its sockets but answers nothing. */
  pause(name: string): void {
    this.node(name).process.pause();
  }

  resume(name: string): void {
    this.node(name).process.resume();
  }

  /** Starts a stopped or killed node again with its (possibly rewritten) config. */
  async restart(name: string): Promise<void> {
    const node = this.node(name);
    if (node.process.running) await node.process.stop();
    this.killed.delete(name);
    await this.launch(node, Date.now() + this.startTimeoutMs);
  }

  /**
   * Stops a node, applies `overrides` to its current config file (which Sentinel
   * and CONFIG REWRITE may have rewritten) and starts it again: how a Sentinel,
   * which cannot reload TLS files at run time, takes new certificates.
   */
  async reconfigureAndRestart(name: string, overrides: ConfigOverrides): Promise<void> {
    const node = this.node(name);
    if (node.process.running) await node.process.stop();
    writeFileSync(
      node.configFile,
      renderRedisConfig(readFileSync(node.configFile, 'utf8'), overrides),
    );
    this.killed.delete(name);
    await this.launch(node, Date.now() + this.startTimeoutMs);
  }

  /** Stops every process this topology started and removes its folder. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.nodes.values()].map((n) => n.process.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
