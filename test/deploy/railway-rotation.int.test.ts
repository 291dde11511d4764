import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueRailwayCertificates } from '../../deploy/railway/issue-certificates.js';
import { presentedFingerprint } from '../../stack/certificate-rotation.js';
import { freePorts } from '../../stack/ports.js';
import { packageRoot } from '../../stack/repo-paths.js';
import {
  LOOPBACK,
  type LoopbackService,
  onNode,
  SENTINEL_HOST,
  startService,
  until,
} from './support/loopback.js';
import { type Layout, loadLayout, localDirs, RAILWAY_DIR } from './support/railway-layout.js';

const hostOf = (service: string) => (service.startsWith('sentinel') ? SENTINEL_HOST : LOOPBACK);

/** Runs `redscope rotate-certs` from the sources, as an operator would in the exporter's container. */
function rotateCerts(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const entry = join(packageRoot(), 'test', 'exporter', 'support', 'cli-entry.ts');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, 'rotate-certs', ...args], {
      cwd: packageRoot(),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * The certificate rotation docs/railway.md gives for Railway, with TLS files on
 * the volumes (REDSCOPE_TLS_SOURCE=volume): new files put in place on every
 * node, then `redscope rotate-certs` with deploy/railway/rotation-plan.yaml's
 * Sentinel restart (sentinel-restart.mjs stops the Sentinel; Railway's restart
 * policy, played here by the test, starts the service again).
 */
describe('rotating certificates on the Railway layout with redscope rotate-certs', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'redscope-railway-rotation-'));
  let layout: Layout;
  const services = new Map<string, LoopbackService>();
  let stopping = false;

  /** Railway's ALWAYS restart policy: a Sentinel that exits is started again. */
  function restartPolicy(service: LoopbackService): void {
    void service.process.waitForExit().then(async () => {
      if (stopping) return;
      await service.restart();
      restartPolicy(service);
    });
  }

  /** A service's volume holding its TLS files, as `scp` would leave them. */
  function putTlsOnVolume(service: string, certFile: string, keyFile: string): string {
    const dir = join(localDirs(scratch, service).REDSCOPE_DATA_DIR, 'tls');
    mkdirSync(dir, { recursive: true });
    copyFileSync(layout.certificates.caFile, join(dir, 'ca.crt'));
    // Copied next to the live files, then renamed over them: a restart never sees half a file.
    copyFileSync(certFile, join(dir, 'redis.crt.new'));
    copyFileSync(keyFile, join(dir, 'redis.key.new'));
    renameSync(join(dir, 'redis.crt.new'), join(dir, 'redis.crt'));
    renameSync(join(dir, 'redis.key.new'), join(dir, 'redis.key'));
    return dir;
  }

  beforeAll(async () => {
    layout = await loadLayout('ha', join(scratch, 'certs'), { domainOf: hostOf });
    const [m, r2, r3, s1, s2, s3] = (await freePorts(6)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const ports: Record<string, number> = {
      'redis-1': m,
      'redis-2': r2,
      'redis-3': r3,
      'sentinel-1': s1,
      'sentinel-2': s2,
      'sentinel-3': s3,
    };
    for (const [name, port] of Object.entries(ports)) {
      const issued = layout.certificates.files.find((f) => f.service === name);
      putTlsOnVolume(name, issued?.certFile ?? '', issued?.keyFile ?? '');
      const service = await startService(layout, scratch, name, port, {
        REDSCOPE_MASTER_PORT: String(m),
        REDSCOPE_TLS_SOURCE: 'volume',
      });
      services.set(name, service);
      if (name.startsWith('sentinel')) restartPolicy(service);
    }
    for (const sentinel of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      await until(`${sentinel} to know the whole topology`, () =>
        onNode(
          layout,
          ports[sentinel] ?? 0,
          async (c) => {
            const master = (await c.call('SENTINEL', 'MASTER', 'redscope')) as string[];
            const at = (k: string) => master[master.indexOf(k) + 1];
            return at('num-slaves') === '2' && at('num-other-sentinels') === '2';
          },
          true,
        ),
      );
    }
  }, 90_000);

  afterAll(async () => {
    stopping = true;
    await Promise.all([...services.values()].map((s) => s.process.stop()));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('renews every node under the same CA: data nodes reload in place, each Sentinel restarts and rejoins', async () => {
    // New certificates from the same CA, put on each node's volume under the same names.
    const renewed = await issueRailwayCertificates({
      out: join(scratch, 'renewed'),
      services: layout.services,
      privateDomainOf: hostOf,
      caDir: join(scratch, 'certs'),
    });
    for (const name of services.keys()) {
      const issued = renewed.files.find((f) => f.service === name);
      putTlsOnVolume(name, issued?.certFile ?? '', issued?.keyFile ?? '');
    }

    // deploy/railway/rotation-plan.yaml with this machine's addresses and files.
    const plan = yaml.load(readFileSync(join(RAILWAY_DIR, 'rotation-plan.yaml'), 'utf8')) as {
      dataNodes: { name: string; host: string; port: number }[];
      sentinels: { name: string; host: string; port: number }[];
      sentinelRestartCommand: string;
      admin: { username: string; passwordFile: string };
      client: Record<string, string>;
    };
    for (const node of [...plan.dataNodes, ...plan.sentinels]) {
      expect(node.host).toBe(`${node.name}.railway.internal`);
      expect(node.port).toBe(node.name.startsWith('sentinel') ? 26379 : 6379);
      node.host = hostOf(node.name);
      node.port = services.get(node.name)?.port ?? 0;
    }
    const app = layout.certificates.files.find((f) => f.service === 'app');
    const passwordFile = join(scratch, 'admin.password');
    writeFileSync(passwordFile, layout.passwords.admin, { mode: 0o600 });
    plan.admin.passwordFile = passwordFile;
    plan.client = {
      caFile: layout.certificates.caFile,
      certFile: app?.certFile ?? '',
      keyFile: app?.keyFile ?? '',
    };
    expect(plan.sentinelRestartCommand).toBe('node /tmp/rotation/sentinel-restart.mjs');
    plan.sentinelRestartCommand = `node ${join(RAILWAY_DIR, 'sentinel-restart.mjs')}`;
    const planFile = join(scratch, 'plan.yaml');
    writeFileSync(planFile, yaml.dump(plan));

    const volumeOf = `${scratch}/{name}/data/tls`;
    const result = await rotateCerts(
      [
        '--plan',
        planFile,
        '--cert-file',
        `${volumeOf}/redis.crt`,
        '--key-file',
        `${volumeOf}/redis.key`,
      ],
      {
        REDSCOPE_ROTATION_CA: layout.certificates.caFile,
        REDSCOPE_ROTATION_CERT: app?.certFile ?? '',
        REDSCOPE_ROTATION_KEY: app?.keyFile ?? '',
      },
    );
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('done: 3 data nodes and 3 Sentinels use the new files');
    expect(result.output.match(/restarted and rejoined its peers/g)).toHaveLength(3);

    // Every node presents its renewed certificate in a fresh handshake.
    const tls = {
      caFile: layout.certificates.caFile,
      certFile: app?.certFile ?? '',
      keyFile: app?.keyFile ?? '',
    };
    for (const [name, service] of services) {
      const expected = new X509Certificate(
        readFileSync(renewed.files.find((f) => f.service === name)?.certFile ?? ''),
      ).fingerprint256;
      expect(
        await presentedFingerprint({ host: hostOf(name), port: service.port }, tls),
        name,
      ).toBe(expected);
    }
    const quorum = await onNode(
      layout,
      services.get('sentinel-1')?.port ?? 0,
      (c) => c.call('SENTINEL', 'CKQUORUM', 'redscope'),
      true,
    );
    expect(String(quorum)).toMatch(/^OK 3 usable Sentinels/);
  }, 120_000);
});
