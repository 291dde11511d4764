/**
 * Rotates the TLS certificates of a live Sentinel topology without dropping
 * clients. Data nodes take new files with CONFIG SET (Redis 7.0 builds a new
 * TLS context for new connections; open ones keep theirs) followed by CONFIG
 * REWRITE so a restart keeps them. Sentinels in 7.0 cannot reload TLS files
 * (no CONFIG SET, and SENTINEL CONFIG SET refuses tls-*), so they are restarted
 * one at a time, each rejoining its peers before the next goes down: quorum is
 * never lost. docs/tls.md is the operator's guide to the same steps.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import type { Redis } from 'ioredis';

/** The TLS files a node (or a client) uses. `caFile` may be a bundle of several CAs. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** A change of some of a node's TLS files; what is left out stays as it is. */
export type TlsUpdate = Partial<TlsFiles>;

export interface RotationNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly kind: 'data' | 'sentinel';
}

/** What the rotation drives: the deployment's nodes, and how to reach and restart them. */
export interface RotationTarget {
  readonly masterName: string;
  readonly dataNodes: readonly RotationNode[];
  readonly sentinels: readonly RotationNode[];
  /**
   * An admin connection to `node` presenting `tls` (the data nodes need a user
   * allowed CONFIG SET and CONFIG REWRITE; Sentinels take no credentials).
   */
  connect(node: RotationNode, tls: TlsFiles): Redis;
  /**
   * Writes `update` into the Sentinel's config file and restarts it; resolves
   * once the process accepts connections (with `tls` as the client side).
   */
  restartSentinel(node: RotationNode, update: TlsUpdate, tls: TlsFiles): Promise<void>;
}

/**
 * One step that every node takes before the next step starts. `toolTls` is what
 * the rotation itself presents and trusts while applying it: it must be valid
 * both before and after the step on every node.
 */
export interface RotationPhase {
  readonly name: string;
  readonly update: (node: RotationNode) => TlsUpdate;
  readonly toolTls: TlsFiles;
}

export interface RotationOptions {
  /** Progress lines (the CLI prints them). */
  readonly log?: (message: string) => void;
  /** Runs after each phase; e.g. roll clients onto new certificates before the old CA goes. */
  readonly afterPhase?: (phase: RotationPhase) => Promise<void>;
  /** How long a restarted Sentinel may take to rejoin its peers (default 15 s). */
  readonly rejoinTimeoutMs?: number;
}

/** A node refused the new files or did not come back; the message names it and what to check. */
export class CertificateRotationError extends Error {
  override readonly name = 'CertificateRotationError';
  constructor(
    readonly node: string,
    readonly phase: string,
    reason: string,
  ) {
    super(`certificate rotation, phase "${phase}", node ${node}: ${reason}`);
  }
}

/**
 * Renewal under the same CA: one phase, every node takes its new certificate
 * and key. Clients need no change.
 */
export function renewalPhases(options: {
  readonly newCertOf: (node: RotationNode) => { certFile: string; keyFile: string };
  readonly toolTls: TlsFiles;
}): RotationPhase[] {
  return [{ name: 'renew certificates', update: options.newCertOf, toolTls: options.toolTls }];
}

/**
 * Moving to a new CA in three phases, each valid whatever mix of old and new
 * nodes exists while it runs (so a phase can stop halfway and be run again):
 *
 * 1. trust both: every node trusts `bundleFile` (old CA + new CA), still presenting its old certificate;
 * 2. switch certificates: every node presents its certificate from the new CA;
 * 3. drop the old CA: every node trusts only `newCaFile`.
 *
 * Clients must trust the bundle before phase 2 and present new-CA client
 * certificates before phase 3 (use `afterPhase` to wait for that).
 */
export function newCaPhases(options: {
  readonly bundleFile: string;
  readonly newCaFile: string;
  readonly newCertOf: (node: RotationNode) => { certFile: string; keyFile: string };
  /** The rotation's own client certificate from the old CA, and from the new one. */
  readonly oldClient: { certFile: string; keyFile: string };
  readonly newClient: { certFile: string; keyFile: string };
}): RotationPhase[] {
  const { bundleFile, newCaFile } = options;
  return [
    {
      name: 'trust both CAs',
      update: () => ({ caFile: bundleFile }),
      toolTls: { ...options.oldClient, caFile: bundleFile },
    },
    {
      name: 'switch to certificates from the new CA',
      update: (node) => options.newCertOf(node),
      toolTls: { ...options.newClient, caFile: bundleFile },
    },
    {
      name: 'drop the old CA',
      update: () => ({ caFile: newCaFile }),
      toolTls: { ...options.newClient, caFile: bundleFile },
    },
  ];
}

/** Applies the phases in order: data nodes first (no restart), then each Sentinel in turn. */
export async function rotateCertificates(
  target: RotationTarget,
  phases: readonly RotationPhase[],
  options: RotationOptions = {},
): Promise<void> {
  for (const phase of phases) {
    options.log?.(`phase: ${phase.name}`);
    for (const node of target.dataNodes) await rotateDataNode(target, node, phase, options);
    for (const node of target.sentinels) await rotateSentinel(target, node, phase, options);
    await options.afterPhase?.(phase);
  }
}

async function withClient<T>(
  target: RotationTarget,
  node: RotationNode,
  tls: TlsFiles,
  fn: (client: Redis) => Promise<T>,
): Promise<T> {
  const client = target.connect(node, tls);
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

const CONFIG_KEYS: Readonly<Record<keyof TlsFiles, string>> = {
  certFile: 'tls-cert-file',
  keyFile: 'tls-key-file',
  caFile: 'tls-ca-cert-file',
};

/** The `tls-*` directives of an update, as redis.conf keys. */
export function tlsDirectives(update: TlsUpdate): Record<string, string> {
  const directives: Record<string, string> = {};
  for (const [field, key] of Object.entries(CONFIG_KEYS) as [keyof TlsFiles, string][]) {
    const value = update[field];
    if (value !== undefined) directives[key] = value;
  }
  return directives;
}

async function rotateDataNode(
  target: RotationTarget,
  node: RotationNode,
  phase: RotationPhase,
  options: RotationOptions,
): Promise<void> {
  const update = phase.update(node);
  const changed = tlsDirectives(update);
  const directives = Object.entries(changed).flat();
  if (directives.length === 0) return;
  await withClient(target, node, phase.toolTls, async (client) => {
    try {
      // One CONFIG SET: Redis validates the files together and applies all or none.
      await client.call('CONFIG', 'SET', ...directives);
      await client.call('CONFIG', 'REWRITE');
    } catch (error) {
      throw new CertificateRotationError(
        node.name,
        phase.name,
        `CONFIG SET refused the new files (${(error as Error).message}); ` +
          'check that they exist on that host, are readable by redis, and that the key matches the certificate',
      );
    }
  });
  await verifyPresented(node, update, phase);
  options.log?.(`  ${node.name}: ${Object.keys(changed).join(', ')} reloaded`);
}

async function rotateSentinel(
  target: RotationTarget,
  node: RotationNode,
  phase: RotationPhase,
  options: RotationOptions,
): Promise<void> {
  const update = phase.update(node);
  if (Object.keys(tlsDirectives(update)).length === 0) return;
  const others = target.sentinels.filter((s) => s !== node);
  // Never take a Sentinel down while the others could not fail over without it.
  await requireQuorum(target, others[0] ?? node, phase);
  try {
    await target.restartSentinel(node, update, phase.toolTls);
  } catch (error) {
    throw new CertificateRotationError(
      node.name,
      phase.name,
      `did not restart with the new files: ${(error as Error).message}`,
    );
  }
  await waitForRejoin(target, node, phase, options.rejoinTimeoutMs ?? 15_000);
  await verifyPresented(node, update, phase);
  options.log?.(`  ${node.name}: restarted and rejoined its peers`);
}

async function requireQuorum(
  target: RotationTarget,
  via: RotationNode,
  phase: RotationPhase,
): Promise<void> {
  try {
    await withClient(target, via, phase.toolTls, (client) =>
      client.call('SENTINEL', 'CKQUORUM', target.masterName),
    );
  } catch (error) {
    throw new CertificateRotationError(
      via.name,
      phase.name,
      `SENTINEL CKQUORUM failed (${(error as Error).message}); not restarting any Sentinel ` +
        'until the quorum is healthy',
    );
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function toRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string;
  return record;
}

/**
 * A restarted Sentinel has rejoined when it sees the master, and it and every
 * peer see each other as plain, connected `sentinel`s (no s_down, no disconnected).
 */
async function waitForRejoin(
  target: RotationTarget,
  node: RotationNode,
  phase: RotationPhase,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const state = await sentinelViews(target, node, phase.toolTls);
      if (state === true) return;
      last = state;
    } catch (error) {
      last = (error as Error).message;
    }
    await delay(100);
  }
  throw new CertificateRotationError(
    node.name,
    phase.name,
    `restarted but did not rejoin within ${timeoutMs} ms (${last}); check its log for TLS errors`,
  );
}

async function sentinelViews(
  target: RotationTarget,
  node: RotationNode,
  tls: TlsFiles,
): Promise<true | string> {
  const peers = target.sentinels.length - 1;
  const own = await withClient(target, node, tls, async (client) => ({
    master: toRecord((await client.call('SENTINEL', 'MASTER', target.masterName)) as string[]),
    sentinels: ((await client.call('SENTINEL', 'SENTINELS', target.masterName)) as string[][]).map(
      toRecord,
    ),
  }));
  if (own.master.flags !== 'master') return `sees the master as ${own.master.flags}`;
  const healthy = own.sentinels.filter((s) => s.flags === 'sentinel');
  if (healthy.length < peers) return `sees ${healthy.length} of ${peers} peers connected`;
  for (const peer of target.sentinels) {
    if (peer === node) continue;
    const view = await withClient(target, peer, tls, async (client) =>
      ((await client.call('SENTINEL', 'SENTINELS', target.masterName)) as string[][]).map(toRecord),
    );
    const entry = sentinelEntryFor(view, node, target.sentinels);
    if (entry?.flags !== 'sentinel') return `${peer.name} sees it as ${entry?.flags ?? 'unknown'}`;
  }
  return true;
}

/**
 * The entry for `node` in a peer's `SENTINEL SENTINELS` reply. When every
 * Sentinel of the deployment has a port of its own (several on one host), the
 * port tells them apart, whatever host the peer knows it by (an IP, a name).
 * When ports are shared (one Sentinel per machine or service, each on 26379,
 * as on Railway) only host and port together do: the host as the rotation
 * plan names it, compared case-insensitively, which is what the Sentinel
 * announces. A peer that does not list the node under that host gives no
 * entry, never another Sentinel that happens to use the same port.
 */
export function sentinelEntryFor(
  view: readonly Record<string, string>[],
  node: Pick<RotationNode, 'host' | 'port'>,
  sentinels: readonly Pick<RotationNode, 'port'>[],
): Record<string, string> | undefined {
  const ports = new Set(sentinels.map((s) => s.port));
  if (ports.size === sentinels.length) return view.find((s) => Number(s.port) === node.port);
  return view.find(
    (s) => Number(s.port) === node.port && s.ip?.toLowerCase() === node.host.toLowerCase(),
  );
}

/** Checks with a fresh handshake that the node now presents the new certificate. */
async function verifyPresented(
  node: RotationNode,
  update: TlsUpdate,
  phase: RotationPhase,
): Promise<void> {
  if (update.certFile === undefined) return;
  // The files are paths on the nodes; compare fingerprints when they are here too
  // (the launcher, or a shared mount), otherwise a working fresh handshake must do.
  const expected = existsSync(update.certFile)
    ? new X509Certificate(readFileSync(update.certFile)).fingerprint256
    : undefined;
  let presented: string;
  try {
    presented = await presentedFingerprint(node, phase.toolTls);
  } catch (error) {
    throw new CertificateRotationError(
      node.name,
      phase.name,
      `a new TLS handshake failed after the change (${(error as Error).message})`,
    );
  }
  if (expected !== undefined && presented !== expected) {
    throw new CertificateRotationError(
      node.name,
      phase.name,
      `still presents certificate ${presented}, expected ${expected} from ${update.certFile}`,
    );
  }
}

/** SHA-256 fingerprint of the certificate `host:port` presents, verified against `tls.caFile`. */
export function presentedFingerprint(
  node: { host: string; port: number },
  tls: TlsFiles,
  timeoutMs = 3000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: node.host,
      port: node.port,
      ca: readFileSync(tls.caFile),
      cert: readFileSync(tls.certFile),
      key: readFileSync(tls.keyFile),
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      socket.end();
      if (fingerprint) resolve(fingerprint);
      else reject(new Error('the server presented no certificate'));
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`TLS handshake timed out after ${timeoutMs} ms`));
    });
    socket.once('error', reject);
  });
}
