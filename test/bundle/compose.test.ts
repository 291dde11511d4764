import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ROOT, readYaml, repoPath } from './support/bundle.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string } | string;
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  secrets?: (string | { source: string; target?: string })[];
  configs?: { source: string; target: string }[];
  ports?: string[];
  expose?: string[];
}

interface Compose {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string; environment?: string; content?: string }>;
  configs?: Record<string, { file?: string; content?: string }>;
  volumes?: Record<string, unknown>;
}

interface Mount {
  readonly service: string;
  readonly source: string;
  readonly target: string;
}

/** Bind mounts (relative sources) of every service; named volumes are skipped. */
function bindMounts(compose: Compose): Mount[] {
  return Object.entries(compose.services).flatMap(([service, s]) =>
    (s.volumes ?? []).flatMap((v) => {
      const [source, target] =
        typeof v === 'string' ? (v.split(':') as [string, string]) : [v.source ?? '', v.target];
      return source.startsWith('.') || isAbsolute(source) ? [{ service, source, target }] : [];
    }),
  );
}

/** Container ports a service listens on: `expose` plus the container side of `ports`. */
function containerPorts(service: Service): string[] {
  return [
    ...(service.expose ?? []),
    ...(service.ports ?? []).map((p) => p.split(':').at(-1) ?? ''),
  ];
}

// Variables whose value would be a secret; a path to a mounted secret file is fine.
const SECRET_NAME = /(^|_)(PASS|PASSWORD|SECRET|TOKEN|KEY|AUTH|WEBHOOK|WEBHOOK_URL)$/i;

/** Everything wrong with a compose file, as sentences; empty when it is fine. */
function problemsOf(compose: Compose): string[] {
  const problems: string[] = [];
  for (const m of bindMounts(compose)) {
    if (isAbsolute(m.source))
      problems.push(`${m.service} mounts an absolute host path ${m.source}`);
    else if (!existsSync(join(ROOT, m.source))) {
      problems.push(`${m.service} mounts ${m.source}, which does not exist in the repository`);
    }
  }
  for (const [name, s] of Object.entries(compose.services)) {
    if (s.image && !/:[vV]?\d+(\.\d+)+/.test(s.image)) {
      problems.push(`${name} uses image ${s.image} without a pinned version`);
    }
    const build = typeof s.build === 'string' ? { context: s.build } : s.build;
    if (build && !existsSync(join(ROOT, build.context, build.dockerfile ?? 'Dockerfile'))) {
      problems.push(`${name} builds from a Dockerfile that does not exist`);
    }
    const env = Array.isArray(s.environment)
      ? Object.fromEntries(s.environment.map((e) => e.split('=') as [string, string]))
      : (s.environment ?? {});
    for (const [key, value] of Object.entries(env)) {
      if (SECRET_NAME.test(key) && !value.startsWith('/run/secrets/')) {
        problems.push(
          `${name} sets ${key} inline: mount it as a secret and pass a *_FILE path (${value.length} chars)`,
        );
      }
    }
    const command = Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');
    if (/--(password|requirepass|masterauth|auth-pass)[ =]|\brequirepass\b/.test(command)) {
      problems.push(`${name} passes a secret on its command line`);
    }
  }
  for (const [name, secret] of Object.entries(compose.secrets ?? {})) {
    if (!secret.file) problems.push(`secret ${name} is not read from a file`);
    else if (!normalize(secret.file).startsWith('secrets/')) {
      problems.push(`secret ${name} lives outside ./secrets/ (${secret.file})`);
    }
  }
  for (const [name, config] of Object.entries(compose.configs ?? {})) {
    if (config.content && /^\s*(password|requirepass|token|api_url):/m.test(config.content)) {
      problems.push(`config ${name} inlines a secret`);
    }
  }
  return problems;
}

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[] }[];
  relabel_configs?: { target_label?: string; replacement?: string }[];
}

/** host:port pairs Prometheus connects to or names, from prometheus.yml. */
function scrapeAddresses(): { job: string; host: string; port: string }[] {
  const config = readYaml<{
    scrape_configs: ScrapeConfig[];
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  }>('prometheus', 'prometheus.yml');
  const out: { job: string; host: string; port: string }[] = [];
  const add = (job: string, address: string) => {
    const [host = '', port = ''] = address.replace(/^\w+:\/\//, '').split(':');
    out.push({ job, host, port });
  };
  for (const job of config.scrape_configs) {
    for (const target of job.static_configs.flatMap((s) => s.targets)) add(job.job_name, target);
    for (const r of job.relabel_configs ?? []) {
      if (r.target_label === '__address__' && r.replacement) add(job.job_name, r.replacement);
    }
  }
  for (const target of config.alerting.alertmanagers.flatMap((a) =>
    a.static_configs.flatMap((s) => s.targets),
  )) {
    add('alerting', target);
  }
  return out;
}

const compose = () => readYaml<Compose>('compose.yaml');

describe('compose.yaml (happy path)', () => {
  it('mounts only paths that exist, pins every image and inlines no secret', () => {
    expect(problemsOf(compose())).toEqual([]);
  });

  it('runs master, two replicas, three Sentinels, exporter, Prometheus, Alertmanager, Grafana, Jaeger and the demo app', () => {
    const services = Object.keys(compose().services);
    for (const name of [
      'redis-0',
      'redis-1',
      'redis-2',
      'sentinel-0',
      'sentinel-1',
      'sentinel-2',
      'exporter',
      'prometheus',
      'alertmanager',
      'grafana',
      'jaeger',
      'demo',
    ]) {
      expect(services).toContain(name);
    }
  });

  it('every address in prometheus.yml is a compose service listening on that port', () => {
    const services = compose().services;
    const addresses = scrapeAddresses();
    expect(addresses.length).toBeGreaterThanOrEqual(9);
    for (const { job, host, port } of addresses) {
      const service = services[host];
      expect(service, `${job}: ${host} is not a compose service`).toBeDefined();
      expect(containerPorts(service ?? {}), `${job}: ${host} does not listen on ${port}`).toContain(
        port,
      );
    }
  });

  it('Redis and Sentinel ports match the tls-port of the configs in sentinel/', () => {
    const tlsPort = (file: string) =>
      /^tls-port (\d+)/m.exec(readFileSync(repoPath('sentinel', file), 'utf8'))?.[1];
    const services = compose().services;
    for (const n of [0, 1, 2]) {
      expect(containerPorts(services[`redis-${n}`] ?? {})).toContain(
        tlsPort(n === 0 ? 'redis-master.conf' : 'redis-replica.conf'),
      );
      expect(containerPorts(services[`sentinel-${n}`] ?? {})).toContain(tlsPort('sentinel.conf'));
    }
    const exporter = services.exporter?.command as string[];
    expect(exporter[exporter.indexOf('--listen') + 1]).toBe('0.0.0.0:9121');
  });

  it('mounts the repository configs where the services read them', () => {
    const services = compose().services;
    const mounts = bindMounts(compose());
    const mountOf = (service: string, source: string) =>
      mounts.find((m) => m.service === service && normalize(m.source) === normalize(source))
        ?.target;
    expect(mountOf('prometheus', './prometheus')).toBe('/etc/prometheus');
    expect(services.prometheus?.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(mountOf('alertmanager', './alertmanager')).toBe('/etc/alertmanager');
    expect(services.alertmanager?.command).toContain(
      '--config.file=/etc/alertmanager/alertmanager.yml',
    );
    expect(mountOf('grafana', './grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const provider = readYaml<{ providers: { options: { path: string } }[] }>(
      'grafana',
      'provisioning',
      'dashboards',
      'redscope.yaml',
    );
    expect(mountOf('grafana', './grafana/dashboards')).toBe(provider.providers[0]?.options.path);
    // alertmanager.yml reads its secrets relative to itself.
    const am = readFileSync(repoPath('alertmanager', 'alertmanager.yml'), 'utf8');
    for (const file of am.matchAll(/_file: (secrets\/[\w.-]+)/g)) {
      const target = `/etc/alertmanager/${file[1]}`;
      expect(
        services.alertmanager?.secrets?.map((s) => (typeof s === 'string' ? s : s.target)),
      ).toContain(target);
    }
  });

  it('the Dockerfile builds the exporter from node:20 with npm ci and runs `redscope exporter`', () => {
    const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(from).toMatch(/^node:20\.\d+\.\d+-/);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/redscope.js"]');
    expect(dockerfile).toContain('CMD ["exporter"]');
    for (const copy of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (copy[1] ?? '').split(' ')) {
        expect(existsSync(repoPath(source)), `COPY ${source}`).toBe(true);
      }
    }
    const dockerignore = readFileSync(repoPath('.dockerignore'), 'utf8');
    expect(dockerignore).toMatch(/^secrets\/$/m);
  });
});

describe('compose.yaml (unhappy path)', () => {
  it('reports a mount of a path that is not in the repository', () => {
    const broken = compose();
    broken.services.prometheus?.volumes?.push(
      './prometheus/no-such-file.yml:/etc/prometheus/extra.yml:ro',
    );
    expect(problemsOf(broken)).toContain(
      'prometheus mounts ./prometheus/no-such-file.yml, which does not exist in the repository',
    );
  });

  it('reports an inlined password, an unpinned image and a secret that is not a file', () => {
    const broken = yaml.load(
      readFileSync(repoPath('compose.yaml'), 'utf8')
        .replace(
          'GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana-admin-password',
          'GF_SECURITY_ADMIN_PASSWORD: hunter2hunter2',
        )
        .replace('image: grafana/grafana:10.4.2', 'image: grafana/grafana:latest'),
    ) as Compose;
    (broken.secrets ?? {})['slack-webhook-url'] = { environment: 'SLACK_URL' };
    const problems = problemsOf(broken);
    expect(
      problems.some((p) => p.startsWith('grafana sets GF_SECURITY_ADMIN_PASSWORD inline')),
    ).toBe(true);
    expect(problems).toContain(
      'grafana uses image grafana/grafana:latest without a pinned version',
    );
    expect(problems).toContain('secret slack-webhook-url is not read from a file');
  });

  it('reports a scrape target whose port the service does not listen on', () => {
    const services = compose().services;
    const exporter = services.exporter ?? {};
    exporter.expose = ['9122'];
    const ports = containerPorts(exporter);
    const wanted = scrapeAddresses()
      .filter((a) => a.host === 'exporter')
      .map((a) => a.port);
    expect(wanted.every((p) => ports.includes(p))).toBe(false);
  });
});

describe('the exporter service in compose.yaml', () => {
  it('passes no node heap flags, so the exporter sets its own V8 flags', () => {
    const compose = readYaml<{
      services: Record<string, { environment?: Record<string, string> }>;
    }>('compose.yaml');
    const options = compose.services.exporter?.environment?.NODE_OPTIONS ?? '';
    expect(options).not.toMatch(/--max-(old|semi)-space-size/);
  });
});
