import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.js';

const run = promisify(execFile);

/** A certificate authority on disk: its certificate and the key that signs with it. */
export interface CertificateAuthority {
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A certificate and its key, signed by `caFile`'s authority. */
export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

export interface IssueOptions {
  /** Common name, also the file stem. */
  readonly name: string;
  /** Subject alternative names, e.g. `['DNS:localhost', 'IP:127.0.0.1']`. */
  readonly subjectAltNames?: readonly string[];
  /** `server` certificates also carry clientAuth: Redis presents them on replication links. */
  readonly usage: 'server' | 'client';
  readonly days?: number;
}

// P-256 keys: as safe as RSA-2048 for this purpose and generated in milliseconds.
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run(requireBinary('openssl'), args, { timeout: 15_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(error)}`);
  }
}

/** Creates a throwaway CA in `dir` (for tests and the local stack, never production). */
export async function createCertificateAuthority(
  dir: string,
  name = 'redscope-ca',
  days = 7,
): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    ...KEY_ARGS,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    String(days),
    '-subj',
    `/O=redscope/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { name, certFile, keyFile };
}

/** Issues a certificate signed by `ca` into `dir`. */
export async function issueCertificate(
  ca: CertificateAuthority,
  dir: string,
  options: IssueOptions,
): Promise<IssuedCertificate> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, options.name);
  const extensions = [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${options.usage === 'server' ? 'serverAuth,clientAuth' : 'clientAuth'}`,
  ];
  if (options.subjectAltNames && options.subjectAltNames.length > 0) {
    extensions.push(`subjectAltName=${options.subjectAltNames.join(',')}`);
  }
  await writeFile(`${base}.ext`, `${extensions.join('\n')}\n`);
  await openssl([
    'req',
    '-new',
    ...KEY_ARGS,
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    `/O=redscope/CN=${options.name}`,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    // A random serial rather than -CAcreateserial: issuing in parallel would race on the .srl file.
    '-set_serial',
    `0x${randomBytes(12).toString('hex')}`,
    '-out',
    `${base}.crt`,
    '-days',
    String(options.days ?? 7),
    '-extfile',
    `${base}.ext`,
  ]);
  return { certFile: `${base}.crt`, keyFile: `${base}.key`, caFile: ca.certFile };
}

/** The TLS material of a local topology: one CA, a server and a client certificate. */
export interface TopologyCertificates {
  readonly ca: CertificateAuthority;
  readonly server: IssuedCertificate;
  readonly client: IssuedCertificate;
}

/**
 * Valid for 30 days: past the 14-day expiry warning, so a local stack does not
 * alert on its own throwaway certificates.
 */
const TOPOLOGY_CERTIFICATE_DAYS = 30;

/** What the server certificate of a topology names: the addresses or the names clients dial. */
export interface ServerNames {
  /** Loopback addresses the nodes listen on besides 127.0.0.1 (a topology with an address per node). */
  readonly addresses?: readonly string[];
  /**
   * DNS names the nodes are dialled by (a hostname topology). When given, the
   * certificate names only these (DNS SANs, no IP): a client that dials an IP
   * or another name fails verification, so a working connection proves the
   * name was checked.
   */
  readonly hostnames?: readonly string[];
}

/** The subjectAltName entries of a topology's server certificate. */
export function serverSubjectAltNames(names: ServerNames = {}): string[] {
  if (names.hostnames !== undefined && names.hostnames.length > 0) {
    return names.hostnames.map((name) => `DNS:${name}`);
  }
  return [
    'DNS:localhost',
    'DNS:redis-master',
    'IP:127.0.0.1',
    ...(names.addresses ?? []).map((address) => `IP:${address}`),
  ];
}

export async function createTopologyCertificates(
  dir: string,
  caName = 'redscope-ca',
  names: ServerNames = {},
): Promise<TopologyCertificates> {
  const days = TOPOLOGY_CERTIFICATE_DAYS;
  const ca = await createCertificateAuthority(dir, caName, days);
  const [server, client] = await Promise.all([
    issueCertificate(ca, dir, {
      name: 'redis',
      usage: 'server',
      subjectAltNames: serverSubjectAltNames(names),
      days,
    }),
    issueCertificate(ca, dir, { name: 'client', usage: 'client', days }),
  ]);
  return { ca, server, client };
}
