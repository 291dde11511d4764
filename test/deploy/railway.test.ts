import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveClientsConfig } from '../../client/connection/config.js';
import { railwayPrivateDomain } from '../../deploy/railway/issue-certificates.js';
import { parseVariables, RailwayVariablesError } from '../../deploy/railway/railway-variables.js';
import { railwayRedisConfig } from '../../docs/examples/railway-connection.js';
import { loadExporterConfig } from '../../exporter/config.js';
import { renderAclFile, USERNAMES } from '../../stack/acl.js';
import { parseRedisConfig } from '../../stack/redis-config.js';
import { packageRoot, sentinelConfigDir } from '../../stack/repo-paths.js';
import {
  ENTRYPOINT,
  type Layout,
  type LayoutName,
  loadLayout,
  localDirs,
  RAILWAY_DIR,
  renderService,
} from './support/railway-layout.js';

const scratch = mkdtempSync(join(tmpdir(), 'redscope-railway-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const directives = (file: string) =>
  new Map(parseRedisConfig(readFileSync(file, 'utf8')).map((d) => [d.key, d.args]));
const template = (file: string) => directives(join(sentinelConfigDir(), file));
const MASTER_NAME = (template('sentinel.conf').get('sentinel monitor') ?? '').split(' ')[0];
const PROXY_DOMAIN = 'shuttle.proxy.rlwy.net';

/** Every file of deploy/railway, recursively, as paths relative to the repository. */
function railwayFiles(dir = RAILWAY_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? railwayFiles(join(dir, entry.name))
      : [relative(packageRoot(), join(dir, entry.name))],
  );
}

describe('deploy/railway: the image and the Railway configs', () => {
  it('the entrypoint is POSIX sh (the Redis image runs it with dash-like /bin/sh)', () => {
    expect(spawnSync('sh', ['-n', ENTRYPOINT]).status).toBe(0);
    const dash = spawnSync('dash', ['-n', ENTRYPOINT]);
    if (dash.error === undefined) expect(dash.status, String(dash.stderr)).toBe(0);
    expect(readFileSync(ENTRYPOINT, 'utf8')).not.toMatch(/\[\[ |\bBASH_|^\s*local\s/m);
  });

  it('Dockerfile.redis copies files that exist, into the paths the entrypoint reads, with no VOLUME', () => {
    const dockerfile = readFileSync(join(RAILWAY_DIR, 'Dockerfile.redis'), 'utf8');
    // Railway's builder refuses VOLUME ("use Railway Volumes").
    expect(dockerfile).not.toMatch(/^\s*VOLUME\b/im);
    const copies = [...dockerfile.matchAll(/^COPY ((?:[^\n\\]|\\\n)+)/gm)].map((m) =>
      (m[1] ?? '').replace(/\\\n/g, ' ').trim().split(/\s+/),
    );
    const sources = copies.flatMap((words) => words.slice(0, -1));
    for (const source of sources)
      expect(existsSync(join(packageRoot(), source)), source).toBe(true);
    const destinations = copies.map((words) => words.at(-1));
    expect(destinations).toContain('/etc/redscope/sentinel/');
    expect(readFileSync(ENTRYPOINT, 'utf8')).toContain(
      'REDSCOPE_TEMPLATES:-/etc/redscope/sentinel',
    );
    const entry = /^ENTRYPOINT \["([^"]+)"\]/m.exec(dockerfile)?.[1];
    expect(destinations).toContain(entry);
    // Every template the entrypoint renders is in the image.
    for (const file of [
      'redis-master.conf',
      'redis-replica.conf',
      'sentinel.conf',
      'users.acl.template',
      'render-secrets.sh',
    ]) {
      expect(sources).toContain(`sentinel/${file}`);
    }
  });

  const KNOWN = {
    build: ['builder', 'dockerfilePath', 'watchPatterns'],
    deploy: [
      'startCommand',
      'healthcheckPath',
      'healthcheckTimeout',
      'restartPolicyType',
      'restartPolicyMaxRetries',
      'drainingSeconds',
      'overlapSeconds',
    ],
  } as const;

  for (const file of ['redis.railway.json', 'exporter.railway.json']) {
    it(`${file} uses only documented config-as-code settings, with numbers as numbers`, () => {
      const config = JSON.parse(readFileSync(join(RAILWAY_DIR, file), 'utf8')) as Record<
        string,
        Record<string, unknown>
      >;
      expect(Object.keys(config).sort()).toEqual(['$schema', 'build', 'deploy']);
      for (const section of ['build', 'deploy'] as const) {
        for (const key of Object.keys(config[section] ?? {})) {
          expect(KNOWN[section] as readonly string[], `${section}.${key}`).toContain(key);
        }
      }
      expect(config.build?.builder).toBe('DOCKERFILE');
      expect(existsSync(join(packageRoot(), String(config.build?.dockerfilePath)))).toBe(true);
      for (const key of [
        'healthcheckTimeout',
        'restartPolicyMaxRetries',
        'drainingSeconds',
        'overlapSeconds',
      ]) {
        const value = config.deploy?.[key];
        if (value !== undefined) expect(typeof value, key).toBe('number');
      }
      for (const pattern of (config.build?.watchPatterns ?? []) as string[]) {
        const fixed = pattern.split('*')[0]?.replace(/\/$/, '') ?? '';
        expect(existsSync(join(packageRoot(), fixed)), pattern).toBe(true);
      }
    });
  }

  it('the Redis services restart whatever the exit (a Sentinel stopped by rotate-certs must come back) and get time to save on SIGTERM', () => {
    const config = JSON.parse(readFileSync(join(RAILWAY_DIR, 'redis.railway.json'), 'utf8'));
    expect(config.deploy.restartPolicyType).toBe('ALWAYS');
    // Railway's default is 0 s between SIGTERM and SIGKILL; Redis needs a few to write its AOF.
    expect(config.deploy.drainingSeconds).toBeGreaterThanOrEqual(10);
    expect(config.build.dockerfilePath).toBe('deploy/railway/Dockerfile.redis');
  });

  it("the exporter's start command is valid sh and writes the files its variables point at", () => {
    const config = JSON.parse(readFileSync(join(RAILWAY_DIR, 'exporter.railway.json'), 'utf8'));
    const script = /^\/bin\/sh -c "([^"]*)"$/.exec(config.deploy.startCommand)?.[1];
    expect(
      script,
      'the start command is /bin/sh -c "..." with no inner double quotes',
    ).toBeDefined();
    expect(spawnSync('sh', ['-n', '-c', script ?? '']).status).toBe(0);
    for (const layout of ['ha', 'single']) {
      const env = parseVariables(
        readFileSync(join(RAILWAY_DIR, layout, 'redscope-exporter.env'), 'utf8'),
        layout,
      );
      for (const key of [
        'REDSCOPE_TLS_CA',
        'REDSCOPE_TLS_CERT',
        'REDSCOPE_TLS_KEY',
        'REDSCOPE_CREDENTIALS_FILE',
      ]) {
        expect(script, `${layout} ${key}`).toContain(`> ${env.get(key)}`);
      }
      expect(env.get('PORT')).toBe(env.get('REDSCOPE_LISTEN')?.split(':').at(-1));
    }
    expect(script).toMatch(/exec node bin\/redscope\.js exporter$/);
  });
});

describe('deploy/railway: variables, references and secrets', () => {
  it('parses NAME=value lines and refuses quotes, spaces and duplicates with the line', () => {
    // A Railway reference, written with a $ that is not a template literal's.
    const reference = `${'$'}{{shared.X}}`;
    expect([...parseVariables(`# c\nA=1\n\nB=${reference}\n`, 'f')]).toEqual([
      ['A', '1'],
      ['B', reference],
    ]);
    expect(() => parseVariables('A="1"', 'f.env')).toThrow(/f\.env:1: A must be unquoted/);
    expect(() => parseVariables('A=1\nA=2', 'f.env')).toThrow(/f\.env:2: A is set twice/);
    expect(() => parseVariables('not a line', 'f.env')).toThrow(RailwayVariablesError);
  });

  it('holds no private key, certificate, password or token in any committed file', () => {
    const files = railwayFiles();
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = readFileSync(join(packageRoot(), file), 'utf8');
      expect(text, file).not.toMatch(/-----BEGIN [A-Z ]+-----/);
      // A base64 blob (a PEM body, an encoded key) or a Railway token would be 40+ such characters.
      expect(text.replace(/https?:\/\/\S+/g, ''), file).not.toMatch(/[A-Za-z0-9+/=]{40,}/);
      expect(text, file).not.toMatch(/RAILWAY_(API_)?TOKEN=\S/);
    }
    for (const file of files.filter((f) => f.endsWith('.env'))) {
      for (const [key, value] of parseVariables(
        readFileSync(join(packageRoot(), file), 'utf8'),
        file,
      )) {
        if (/PASSWORD|SECRET|TOKEN|_B64$/.test(key)) {
          // A secret is only ever a reference to a (sealed) shared variable, never a value.
          expect(value, `${file} ${key}`).toMatch(/^\$\{\{shared\.[A-Z0-9_]+\}\}$/);
        }
      }
    }
  });
});

const layouts: Record<LayoutName, Layout> = {} as Record<LayoutName, Layout>;
beforeAll(async () => {
  layouts.ha = await loadLayout('ha', join(scratch, 'certs-ha'), {
    extraNames: { 'redis-1': [PROXY_DOMAIN] },
  });
  layouts.single = await loadLayout('single', join(scratch, 'certs-single'), {
    extraNames: { redis: [PROXY_DOMAIN] },
  });
}, 60_000);

/** Renders `service` of `layout` into its own folder under scratch and returns the folder. */
async function render(layout: Layout, service: string, extra: Record<string, string> = {}) {
  const dirs = localDirs(join(scratch, `${layout.name}-render`), service);
  const result = await renderService({ ...layout.env(service, { ...dirs, ...extra }) });
  return { ...result, dirs };
}

describe.each(['ha', 'single'] as const)('the %s layout', (name) => {
  it('every reference names a service of the layout or a shared variable README.md lists', () => {
    const layout = layouts[name];
    // resolveReferences throws on a reference to nothing; env() resolves them all.
    for (const service of layout.services) expect(() => layout.env(service.name)).not.toThrow();
    const readme = readFileSync(join(RAILWAY_DIR, 'README.md'), 'utf8');
    for (const shared of Object.keys(layout.shared)) expect(readme).toContain(shared);
  });

  it('gives every Redis node and Sentinel a certificate for its private domain (and the TCP proxy), from the CA', () => {
    const layout = layouts[name];
    const ca = new X509Certificate(readFileSync(layout.certificates.caFile));
    for (const service of layout.services) {
      const issued = layout.certificates.files.find((f) => f.service === service.name);
      expect(issued, service.name).toBeDefined();
      const cert = new X509Certificate(readFileSync(issued?.certFile ?? ''));
      expect(cert.verify(ca.publicKey), service.name).toBe(true);
      expect(statSync(issued?.keyFile ?? '').mode & 0o077).toBe(0);
      const ekus = cert.keyUsage ?? [];
      expect(ekus).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth: every service is a TLS client
      if (service.role === undefined) continue;
      expect(ekus).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
      expect(cert.checkHost(railwayPrivateDomain(service.name)), service.name).toBeDefined();
    }
    const proxied = name === 'ha' ? 'redis-1' : 'redis';
    const proxiedCert = layout.certificates.files.find((f) => f.service === proxied);
    expect(
      new X509Certificate(readFileSync(proxiedCert?.certFile ?? '')).checkHost(PROXY_DOMAIN),
    ).toBe(PROXY_DOMAIN);
  });

  it('renders every Redis node: TLS only, client certificates, ACL file, announced by its private domain', async () => {
    const layout = layouts[name];
    const nodes = layout.services.filter((s) => s.role === 'master' || s.role === 'replica');
    expect(nodes.length).toBe(name === 'ha' ? 3 : 2);
    for (const node of nodes) {
      const { code, stderr, stdout, dirs } = await render(layout, node.name);
      expect(code, stderr).toBe(0);
      const conf = join(dirs.REDSCOPE_DATA_DIR, 'redscope', 'redis.conf');
      expect(stdout.trim()).toBe(`redis-server ${conf}`);
      const d = directives(conf);
      const base = template(node.role === 'master' ? 'redis-master.conf' : 'redis-replica.conf');
      // The same checks test/sentinel/configs.test.ts makes of sentinel/.
      expect(d.get('port')).toBe('0');
      expect(d.get('tls-port')).toBe('6379');
      expect(d.get('tls-auth-clients')).toBe('yes');
      expect(d.get('tls-replication')).toBe('yes');
      expect(d.get('masteruser')).toBe('replica');
      expect(d.get('min-replicas-max-lag')).toBe('2');
      expect(d.get('repl-diskless-sync-delay')).toBe('0');
      expect(d.get('min-replicas-to-write')).toBe(name === 'ha' ? '1' : '0');
      // Everything else the template says is kept as it is.
      for (const [key, value] of base) {
        // What the entrypoint sets per service (each checked above or below).
        const perService =
          /^(tls-(cert|key|ca-cert)-file|aclfile|dir|min-replicas-to-write|replicaof|replica-announce-(ip|port)|bind|port|tls-port)$/;
        if (perService.test(key)) continue;
        expect(d.get(key), `${node.name} ${key}`).toBe(value);
      }
      expect(d.get('bind')).toBe('* -::*');
      expect(d.get('dir')).toBe(dirs.REDSCOPE_DATA_DIR);
      expect(d.get('masterauth')).toBe(layout.passwords.replica);
      expect(d.get('replica-announce-ip')).toBe(railwayPrivateDomain(node.name));
      expect(d.get('replica-announce-port')).toBe('6379');
      const master = layout.services.find((s) => s.role === 'master')?.name ?? '';
      if (node.role === 'replica')
        expect(d.get('replicaof')).toBe(`${railwayPrivateDomain(master)} 6379`);
      else expect(d.has('replicaof')).toBe(false);
      // The ACL file is sentinel/users.acl.template with these passwords' hashes, and nothing else.
      const acl = readFileSync(d.get('aclfile') ?? '', 'utf8');
      expect(acl).toBe(
        renderAclFile(
          readFileSync(join(sentinelConfigDir(), 'users.acl.template'), 'utf8'),
          layout.passwords,
        ),
      );
      // The TLS files are the service's own, private to the process.
      const issued = layout.certificates.files.find((f) => f.service === node.name);
      expect(readFileSync(d.get('tls-cert-file') ?? '', 'utf8')).toBe(
        readFileSync(issued?.certFile ?? '', 'utf8'),
      );
      expect(readFileSync(d.get('tls-ca-cert-file') ?? '', 'utf8')).toBe(
        readFileSync(layout.certificates.caFile, 'utf8'),
      );
      expect(statSync(d.get('tls-key-file') ?? '').mode & 0o077).toBe(0);
      expect(statSync(conf).mode & 0o077).toBe(0);
      // render-secrets.sh's password folder is gone.
      expect(existsSync(join(dirs.REDSCOPE_RUN_DIR, 'secrets'))).toBe(false);
      // Nothing the operator set is echoed.
      for (const password of Object.values(layout.passwords))
        expect(stderr + stdout).not.toContain(password);
    }
  });
});

describe('the HA layout: Sentinels and names that match across services', () => {
  it('renders each Sentinel: TLS, hostnames announced and resolved, monitoring redis-1 by its private domain', async () => {
    const layout = layouts.ha;
    const sentinels = layout.services.filter((s) => s.role === 'sentinel');
    expect(sentinels.map((s) => s.name)).toEqual(['sentinel-1', 'sentinel-2', 'sentinel-3']);
    for (const sentinel of sentinels) {
      const { code, stderr, stdout, dirs } = await render(layout, sentinel.name);
      expect(code, stderr).toBe(0);
      const conf = join(dirs.REDSCOPE_DATA_DIR, 'redscope', 'sentinel.conf');
      expect(stdout.trim()).toBe(`redis-sentinel ${conf}`);
      const d = directives(conf);
      expect(d.get('port')).toBe('0');
      expect(d.get('tls-port')).toBe('26379');
      expect(d.get('tls-auth-clients')).toBe('yes');
      expect(d.get('tls-replication')).toBe('yes');
      expect(d.get('sentinel resolve-hostnames')).toBe('yes');
      expect(d.get('sentinel announce-hostnames')).toBe('yes');
      expect(d.get('sentinel announce-ip')).toBe(railwayPrivateDomain(sentinel.name));
      expect(d.get('sentinel announce-port')).toBe('26379');
      expect(d.get('sentinel monitor')).toBe(`${MASTER_NAME} redis-1.railway.internal 6379 2`);
      expect(d.get('sentinel auth-user')).toBe(`${MASTER_NAME} sentinel`);
      expect(d.get('sentinel auth-pass')).toBe(`${MASTER_NAME} ${layout.passwords.sentinel}`);
      for (const key of ['down-after-milliseconds', 'failover-timeout', 'parallel-syncs']) {
        expect(d.get(`sentinel ${key}`)).toBe(template('sentinel.conf').get(`sentinel ${key}`));
      }
    }
  });

  it('the app and the exporter find the same three Sentinels and master name; the app config is valid for createRedisClients', () => {
    const layout = layouts.ha;
    const sentinelAddresses = ['sentinel-1', 'sentinel-2', 'sentinel-3'].map(
      (s) => `${railwayPrivateDomain(s)}:26379`,
    );
    const app = railwayRedisConfig(layout.env('app'));
    expect(app.sentinels).toEqual(sentinelAddresses);
    expect(app.masterName).toBe(MASTER_NAME);
    expect(app.username).toBe(USERNAMES.app);
    const resolved = resolveClientsConfig(app);
    expect(resolved.mode).toBe('sentinel');
    // The exporter takes targets: rediss:// says TLS (a bare host:port would be plain TCP).
    expect(layout.env('redscope-exporter').REDSCOPE_SENTINELS).toBe(
      sentinelAddresses.map((a) => `rediss://${a}`).join(','),
    );
  });

  it("the exporter's variables load with the exporter's own config loader", () => {
    const layout = layouts.ha;
    const env = layout.env('redscope-exporter');
    const files: Record<string, string> = {
      [env.REDSCOPE_TLS_CA ?? '']: readFileSync(layout.certificates.caFile, 'utf8'),
      [env.REDSCOPE_TLS_CERT ?? '']: 'cert',
      [env.REDSCOPE_TLS_KEY ?? '']: 'key',
      [env.REDSCOPE_CREDENTIALS_FILE ?? '']:
        'targets:\n  - match: rediss://*.railway.internal:6379\n    username: redscope-exporter\n    password_file: /tmp/redscope/exporter.password\n',
      '/tmp/redscope/exporter.password': layout.passwords.exporter,
    };
    const config = loadExporterConfig({
      flags: {},
      env,
      readFile: (path) => {
        const text = files[path];
        if (text === undefined) throw new Error(`ENOENT ${path}`);
        return text;
      },
    });
    expect(config.masterName).toBe(MASTER_NAME);
    expect(config.sentinels.map((t) => t.scheme)).toEqual(['rediss', 'rediss', 'rediss']);
    expect(config.sentinels.map((t) => t.host)).toEqual(
      ['sentinel-1', 'sentinel-2', 'sentinel-3'].map(railwayPrivateDomain),
    );
    expect(config.redisAuth.username).toBe(USERNAMES.exporter);
    expect(config.listen.host).toBe('::');
    expect(config.allowTargets).toHaveLength(2);
  });

  it('a restarted node keeps the role Sentinel last gave it, and a Sentinel keeps its id and the master it knew', async () => {
    const layout = layouts.ha;
    // redis-1 was demoted by a failover: Sentinel's CONFIG REWRITE left a replicaof line.
    const first = await render(layout, 'redis-1');
    expect(first.code, first.stderr).toBe(0);
    const conf = join(first.dirs.REDSCOPE_DATA_DIR, 'redscope', 'redis.conf');
    appendFileSync(conf, '\nreplicaof redis-2.railway.internal 6379\n');
    const again = await render(layout, 'redis-1');
    expect(again.code, again.stderr).toBe(0);
    expect(directives(conf).get('replicaof')).toBe('redis-2.railway.internal 6379');
    expect(again.stderr).toMatch(
      /starts as a replica of redis-2\.railway\.internal:6379, from its config/,
    );

    // sentinel-1 had switched to redis-2 and written its id.
    const sentinel = await render(layout, 'sentinel-1');
    const sentinelConf = join(sentinel.dirs.REDSCOPE_DATA_DIR, 'redscope', 'sentinel.conf');
    const myid = 'a'.repeat(40);
    // What Sentinel's CONFIG REWRITE writes after a failover it took part in (epoch 3).
    const text = readFileSync(sentinelConf, 'utf8').replace(
      /^sentinel monitor .*$/m,
      [
        `sentinel monitor ${MASTER_NAME} redis-2.railway.internal 6379 2`,
        `sentinel myid ${myid}`,
        `sentinel config-epoch ${MASTER_NAME} 3`,
        `sentinel leader-epoch ${MASTER_NAME} 3`,
        'sentinel current-epoch 3',
      ].join('\n'),
    );
    writeFileSync(sentinelConf, text);
    const rerendered = await render(layout, 'sentinel-1');
    expect(rerendered.code, rerendered.stderr).toBe(0);
    const d = directives(sentinelConf);
    expect(d.get('sentinel monitor')).toBe(`${MASTER_NAME} redis-2.railway.internal 6379 2`);
    expect(d.get('sentinel myid')).toBe(myid);
    // Its epochs too: back at 0 it could vote a second time in an election it voted in.
    expect(d.get('sentinel current-epoch')).toBe('3');
    expect(d.get('sentinel config-epoch')).toBe(`${MASTER_NAME} 3`);
    expect(d.get('sentinel leader-epoch')).toBe(`${MASTER_NAME} 3`);
    expect(d.get('sentinel announce-ip')).toBe('sentinel-1.railway.internal');
  });

  it('takes the TLS files from the volume with REDSCOPE_TLS_SOURCE=volume, naming a missing one', async () => {
    const layout = layouts.ha;
    const dirs = localDirs(join(scratch, 'volume-tls'), 'redis-2');
    const env = { ...layout.env('redis-2', dirs), REDSCOPE_TLS_SOURCE: 'volume' };
    const missing = await renderService(env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${dirs.REDSCOPE_DATA_DIR}/tls/ca.crt is missing or empty`);
    const tlsDir = join(dirs.REDSCOPE_DATA_DIR, 'tls');
    mkdirSync(tlsDir, { recursive: true });
    const issued = layout.certificates.files.find((f) => f.service === 'redis-2');
    writeFileSync(join(tlsDir, 'ca.crt'), readFileSync(layout.certificates.caFile));
    writeFileSync(join(tlsDir, 'redis.crt'), readFileSync(issued?.certFile ?? ''));
    writeFileSync(join(tlsDir, 'redis.key'), readFileSync(issued?.keyFile ?? ''));
    const ok = await renderService(env);
    expect(ok.code, ok.stderr).toBe(0);
    const d = directives(join(dirs.REDSCOPE_DATA_DIR, 'redscope', 'redis.conf'));
    expect(d.get('tls-cert-file')).toBe(join(tlsDir, 'redis.crt'));
  });
});

describe('the single layout: one URL', () => {
  it('the app and the exporter point at the redis service, the standby replicates it', () => {
    const layout = layouts.single;
    const url = `rediss://${railwayPrivateDomain('redis')}:6379`;
    const app = railwayRedisConfig(layout.env('app'));
    expect(app.url).toBe(url);
    expect(resolveClientsConfig(app).mode).toBe('standalone');
    expect(layout.env('redscope-exporter').REDSCOPE_REDIS_URL).toBe(url);
    expect(layout.env('redis-standby').REDSCOPE_MASTER_HOST).toBe(railwayPrivateDomain('redis'));
  });
});

describe('unhappy: the entrypoint refuses a bad service and names the variable', () => {
  const cases: [string, (env: Record<string, string>) => void, RegExp][] = [
    ['no role', (env) => delete env.REDSCOPE_ROLE, /REDSCOPE_ROLE is not set/],
    [
      'an unknown role',
      (env) => (env.REDSCOPE_ROLE = 'primary'),
      /REDSCOPE_ROLE=primary is not a role/,
    ],
    [
      'a replica without its master',
      (env) => delete env.REDSCOPE_MASTER_HOST,
      /REDSCOPE_MASTER_HOST is not set/,
    ],
    [
      'no private domain',
      (env) => delete env.RAILWAY_PRIVATE_DOMAIN,
      /nor RAILWAY_PRIVATE_DOMAIN is set/,
    ],
    [
      'a missing password',
      (env) => delete env.REDSCOPE_PASSWORD_APP,
      /REDSCOPE_PASSWORD_APP is not set/,
    ],
    [
      'a short password',
      (env) => (env.REDSCOPE_PASSWORD_REPLICA = 'short'),
      /REDSCOPE_PASSWORD_REPLICA is shorter than 16/,
    ],
    [
      'a key that is not base64 PEM',
      (env) => (env.REDSCOPE_TLS_KEY_B64 = Buffer.from('hello').toString('base64')),
      /REDSCOPE_TLS_KEY_B64 does not decode to a PEM file/,
    ],
    [
      'an unknown TLS source',
      (env) => (env.REDSCOPE_TLS_SOURCE = 'vault'),
      /REDSCOPE_TLS_SOURCE=vault/,
    ],
    [
      'a host with a space',
      (env) => (env.REDSCOPE_MASTER_HOST = 'a b'),
      /REDSCOPE_MASTER_HOST=a b is not a host name/,
    ],
  ];
  for (const [what, change, message] of cases) {
    it(`exits 2 on ${what}`, async () => {
      const layout = layouts.ha;
      const env = layout.env(
        'redis-2',
        localDirs(join(scratch, 'unhappy'), what.replace(/\W/g, '-')),
      );
      change(env);
      const result = await renderService(env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      for (const password of Object.values(layout.passwords))
        expect(result.stderr).not.toContain(password);
    });
  }

  it('a Sentinel needs only the sentinel password; a data node without the others fails naming one', async () => {
    const layout = layouts.ha;
    const env = layout.env('sentinel-2', localDirs(join(scratch, 'least'), 'sentinel-2'));
    expect(Object.keys(env).filter((k) => k.startsWith('REDSCOPE_PASSWORD_'))).toEqual([
      'REDSCOPE_PASSWORD_SENTINEL',
    ]);
    const sentinel = await renderService(env);
    expect(sentinel.code, sentinel.stderr).toBe(0);
    // A data node given only what a Sentinel gets: the first password it needs is named.
    const dataNode = layout.env('redis-2', localDirs(join(scratch, 'least'), 'redis-2'));
    for (const key of Object.keys(dataNode)) {
      if (key.startsWith('REDSCOPE_PASSWORD_') && key !== 'REDSCOPE_PASSWORD_SENTINEL') {
        delete dataNode[key];
      }
    }
    const refused = await renderService(dataNode);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/REDSCOPE_PASSWORD_ADMIN is not set/);
    expect(
      existsSync(join(dataNode.REDSCOPE_DATA_DIR ?? '', 'redscope', 'redis.conf')),
      'no config written',
    ).toBe(false);
  });

  const sentinelCases: [string, (env: Record<string, string>) => void, RegExp][] = [
    [
      'no sentinel password',
      (env) => delete env.REDSCOPE_PASSWORD_SENTINEL,
      /REDSCOPE_PASSWORD_SENTINEL is not set/,
    ],
    [
      'a short sentinel password',
      (env) => (env.REDSCOPE_PASSWORD_SENTINEL = 'short'),
      /REDSCOPE_PASSWORD_SENTINEL is shorter than 16/,
    ],
    [
      'a sentinel password with a space',
      (env) => (env.REDSCOPE_PASSWORD_SENTINEL = 'has a space in it, long enough'),
      /REDSCOPE_PASSWORD_SENTINEL has characters outside/,
    ],
  ];
  for (const [what, change, message] of sentinelCases) {
    it(`a Sentinel with ${what}: exits 2 and leaves the config from its last boot as it was`, async () => {
      const layout = layouts.ha;
      const dirs = localDirs(join(scratch, 'unhappy-sentinel'), what.replace(/\W/g, '-'));
      const good = await renderService(layout.env('sentinel-1', dirs));
      expect(good.code, good.stderr).toBe(0);
      const conf = join(dirs.REDSCOPE_DATA_DIR, 'redscope', 'sentinel.conf');
      const before = readFileSync(conf, 'utf8');
      const env = layout.env('sentinel-1', dirs);
      change(env);
      const result = await renderService(env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
      expect(readFileSync(conf, 'utf8')).toBe(before);
      expect(existsSync(`${conf}.new`)).toBe(false);
      for (const password of Object.values(layout.passwords))
        expect(result.stderr).not.toContain(password);
    });
  }
});

describe('issue-certificates.ts as a command', () => {
  it('refuses a --proxy for a service the layout does not have, naming it', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(RAILWAY_DIR, 'issue-certificates.ts'),
        '--out',
        join(scratch, 'bad'),
        '--proxy',
        'redis-9=x.proxy.rlwy.net',
      ],
      { encoding: 'utf8', cwd: packageRoot() },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--proxy redis-9=\.\.\.: no service redis-9 in this layout/);
  });

  it('renews under the same CA and builds the old+new bundle for a CA change', () => {
    const out = join(scratch, 'renewal');
    const command = (args: string[]) =>
      execFileSync(
        process.execPath,
        ['--import', 'tsx', join(RAILWAY_DIR, 'issue-certificates.ts'), ...args],
        {
          cwd: packageRoot(),
          encoding: 'utf8',
        },
      );
    const caDir = join(scratch, 'certs-ha');
    command(['--out', out, '--ca-dir', caDir]);
    const ca = new X509Certificate(readFileSync(join(caDir, 'ca.crt')));
    expect(new X509Certificate(readFileSync(join(out, 'redis-3.crt'))).verify(ca.publicKey)).toBe(
      true,
    );
    expect(readFileSync(join(out, 'ca.crt'), 'utf8')).toBe(
      readFileSync(join(caDir, 'ca.crt'), 'utf8'),
    );

    const changed = join(scratch, 'new-ca');
    const printed = command(['--out', changed, '--previous-ca', join(caDir, 'ca.crt')]);
    expect(printed).toContain('CA bundle (old + new)');
    const bundle = readFileSync(join(changed, 'ca-bundle.crt'), 'utf8');
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(bundle).toContain(readFileSync(join(caDir, 'ca.crt'), 'utf8').trim());
    expect(
      Buffer.from(readFileSync(join(changed, 'ca-bundle.crt.b64'), 'utf8'), 'base64').toString(),
    ).toBe(bundle);
  });
});
