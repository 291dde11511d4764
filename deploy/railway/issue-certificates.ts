/**
 * Issues the TLS material of a Railway layout (deploy/railway/README.md, step 3):
 * a CA, one certificate per Redis node and Sentinel naming its private domain
 * (`<service>.railway.internal`, and its TCP proxy domain when it has one), and
 * one client certificate per client service (exporter, app). Every file also
 * comes as `<file>.b64`, one line, ready for `railway variable set --stdin`.
 *
 *   npx tsx deploy/railway/issue-certificates.ts --layout ha --out ~/redscope-railway-tls \
 *     [--proxy redis-1=shuttle.proxy.rlwy.net] [--ca-dir DIR] [--previous-ca FILE] [--days 90]
 *
 * A script rather than a `redscope` command: it runs once per rotation on an
 * operator's workstation (the CA key must never be on Railway), from a checkout,
 * and it only arranges names around stack/certificates.ts, which the launcher
 * and the tests already use to make certificates.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueCertificate,
} from '../../stack/certificates.js';
import { layoutServices, type RailwayService } from './railway-variables.js';

/** Five years, like docs/tls.md: the CA changes deliberately, in three phases. */
const CA_DAYS = 1825;
/** Renewed at 60 days, so a failed renewal has a month before the 14-day expiry alert. */
const CERTIFICATE_DAYS = 90;

export interface IssueOptions {
  /** Folder the files go to (created; keys are mode 0600). */
  readonly out: string;
  readonly services: readonly RailwayService[];
  /** The private domain of a service (Railway: `<service>.railway.internal`). */
  readonly privateDomainOf?: (service: string) => string;
  /** Extra DNS names per service: its TCP proxy domain, a custom domain CNAMEd to it. */
  readonly extraNames?: Readonly<Record<string, readonly string[]>>;
  /** A folder holding ca.crt and ca.key to sign with (a renewal), instead of a new CA. */
  readonly caDir?: string;
  /** The CA being replaced: ca-bundle.crt then holds it and the new one (a CA change). */
  readonly previousCaFile?: string;
  readonly days?: number;
}

export interface IssuedFile {
  readonly service: string;
  readonly usage: 'server' | 'client';
  readonly certFile: string;
  readonly keyFile: string;
  /** The DNS names in the certificate (server certificates only). */
  readonly names: readonly string[];
}

export interface IssuedSet {
  readonly caFile: string;
  readonly bundleFile?: string;
  readonly files: readonly IssuedFile[];
}

/** A certificate or option that cannot be made; the message says which. */
export class IssueError extends Error {
  override readonly name = 'IssueError';
}

export const railwayPrivateDomain = (service: string): string => `${service}.railway.internal`;

/** Writes `<file>.b64`: the file's bytes in base64 on one line (what the entrypoint decodes). */
function writeBase64(file: string): void {
  writeFileSync(`${file}.b64`, readFileSync(file).toString('base64'), { mode: 0o600 });
}

export async function issueRailwayCertificates(options: IssueOptions): Promise<IssuedSet> {
  const out = resolve(options.out);
  const days = options.days ?? CERTIFICATE_DAYS;
  const domainOf = options.privateDomainOf ?? railwayPrivateDomain;
  const known = new Set(options.services.map((s) => s.name));
  for (const service of Object.keys(options.extraNames ?? {})) {
    if (!known.has(service)) {
      throw new IssueError(
        `--proxy ${service}=...: no service ${service} in this layout (${[...known].join(', ')})`,
      );
    }
  }
  mkdirSync(out, { recursive: true, mode: 0o700 });
  let ca: CertificateAuthority;
  if (options.caDir) {
    ca = {
      name: 'ca',
      certFile: join(options.caDir, 'ca.crt'),
      keyFile: join(options.caDir, 'ca.key'),
    };
    for (const file of [ca.certFile, ca.keyFile]) {
      if (!existsSync(file)) throw new IssueError(`--ca-dir: ${file} does not exist`);
    }
    writeFileSync(join(out, 'ca.crt'), readFileSync(ca.certFile));
  } else {
    ca = await createCertificateAuthority(out, 'ca', CA_DAYS);
  }
  chmodSync(ca.keyFile, 0o600);
  writeBase64(join(out, 'ca.crt'));

  let bundleFile: string | undefined;
  if (options.previousCaFile) {
    if (!existsSync(options.previousCaFile)) {
      throw new IssueError(`--previous-ca: ${options.previousCaFile} does not exist`);
    }
    bundleFile = join(out, 'ca-bundle.crt');
    const previous = readFileSync(options.previousCaFile, 'utf8').trimEnd();
    writeFileSync(bundleFile, `${previous}\n${readFileSync(ca.certFile, 'utf8')}`);
    writeBase64(bundleFile);
  }

  const files = await Promise.all(
    options.services.map(async (service): Promise<IssuedFile> => {
      // Redis nodes and Sentinels present their certificate to clients and, on
      // replication and Sentinel links, as clients: serverAuth and clientAuth.
      const usage = service.role === undefined ? 'client' : 'server';
      const names =
        usage === 'server'
          ? [domainOf(service.name), ...(options.extraNames?.[service.name] ?? [])]
          : [];
      const issued = await issueCertificate(ca, out, {
        name: service.name,
        usage,
        days,
        ...(names.length > 0
          ? { subjectAltNames: names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)) }
          : {}),
      });
      chmodSync(issued.keyFile, 0o600);
      rmSync(join(out, `${service.name}.csr`), { force: true });
      rmSync(join(out, `${service.name}.ext`), { force: true });
      writeBase64(issued.certFile);
      writeBase64(issued.keyFile);
      return {
        service: service.name,
        usage,
        certFile: issued.certFile,
        keyFile: issued.keyFile,
        names,
      };
    }),
  );
  return { caFile: join(out, 'ca.crt'), ...(bundleFile ? { bundleFile } : {}), files };
}

/** `--proxy service=host` flags as extra names per service. */
function proxyNames(flags: readonly string[]): Record<string, string[]> {
  const names: Record<string, string[]> = {};
  for (const flag of flags) {
    const match = /^([a-z0-9][a-z0-9-]*)=([A-Za-z0-9.-]+)$/.exec(flag);
    if (!match?.[1] || !match[2]) {
      throw new IssueError(
        `--proxy ${flag}: expected SERVICE=HOST, e.g. redis-1=shuttle.proxy.rlwy.net`,
      );
    }
    names[match[1]] = [...(names[match[1]] ?? []), match[2]];
  }
  return names;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      layout: { type: 'string', default: 'ha' },
      out: { type: 'string' },
      proxy: { type: 'string', multiple: true, default: [] },
      'ca-dir': { type: 'string' },
      'previous-ca': { type: 'string' },
      days: { type: 'string' },
    },
  });
  if (!values.out) throw new IssueError('--out DIR is required: where the certificates go');
  if (values.layout !== 'ha' && values.layout !== 'single') {
    throw new IssueError(`--layout ${values.layout}: give ha or single`);
  }
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(Number.isInteger(days) && days > 0)) {
    throw new IssueError(`--days ${values.days}: expected a whole number of days`);
  }
  process.umask(0o077);
  const services = layoutServices(join(import.meta.dirname, values.layout));
  const issued = await issueRailwayCertificates({
    out: values.out,
    services,
    extraNames: proxyNames(values.proxy ?? []),
    ...(values['ca-dir'] ? { caDir: values['ca-dir'] } : {}),
    ...(values['previous-ca'] ? { previousCaFile: values['previous-ca'] } : {}),
    ...(days ? { days } : {}),
  });
  process.stdout.write(`CA: ${issued.caFile} (keep ca.key offline, never on Railway)\n`);
  if (issued.bundleFile) process.stdout.write(`CA bundle (old + new): ${issued.bundleFile}\n`);
  for (const file of issued.files) {
    const names = file.names.length > 0 ? `  ${file.names.join(', ')}` : '  (client)';
    process.stdout.write(`${file.service}: ${file.certFile}${names}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `issue-certificates: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 2;
    },
  );
}
