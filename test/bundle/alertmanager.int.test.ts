import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  renderLoopbackAlertmanagerConfig,
  withoutUrlFields,
} from '../../stack/alertmanager-loopback-config.js';
import { startAlertmanager } from '../../stack/alertmanager-server.js';
import type { HttpService } from '../../stack/http-service.js';
import { LoopbackReceivers } from '../../stack/loopback-receivers.js';
import { freePort } from '../../stack/ports.js';
import { committedAlertRules, repoPath, run } from './support/bundle.js';
import { waitFor } from './support/wait-for.js';

const PRODUCTION = repoPath('alertmanager', 'alertmanager.yml');
const productionText = () => readFileSync(PRODUCTION, 'utf8');

/** `amtool config routes test` for a label set; resolves with the receivers it printed. */
async function routeOf(labels: string[], expected: string, configFile = PRODUCTION) {
  return run('amtool', [
    'config',
    'routes',
    'test',
    `--config.file=${configFile}`,
    `--verify.receivers=${expected}`,
    ...labels,
  ]);
}

describe('alertmanager.yml (happy path)', () => {
  it('amtool check-config is clean and finds the templates, receivers and inhibit rules', async () => {
    const result = await run('amtool', ['check-config', PRODUCTION]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
    expect(result.stdout).toMatch(/4 inhibit rules/);
    expect(result.stdout).toMatch(/1 templates/);
  });

  it.each([
    [['severity=critical', 'alertname=RedisDown', 'instance=redis-0:6379'], 'pagerduty-critical'],
    [
      ['severity=critical', 'alertname=RedisSentinelQuorumLost', 'cluster=redscope'],
      'pagerduty-critical',
    ],
    [['severity=critical', 'maintenance_window=weekly'], 'pagerduty-critical'],
    [
      ['severity=warning', 'alertname=RedisReplicaLinkDown', 'instance=redis-0:6379'],
      'slack-warning',
    ],
    [['severity=warning', 'alertname=RedisSentinelDown', 'cluster=redscope'], 'slack-warning'],
    [['severity=warning', 'maintenance_window=weekly'], 'slack-warning'],
    [['severity=info', 'alertname=RedisFailover'], 'null'],
    // No severity at all still reaches a human, in chat.
    [['alertname=SomethingNew'], 'slack-warning'],
  ])('routes %j to %s', async (labels, receiver) => {
    const result = await routeOf(labels, receiver);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(receiver);
  });

  it('every severity a rule uses has a route that is not the default', async () => {
    const severities = new Set(committedAlertRules().map((r) => r.labels.severity));
    for (const severity of severities) {
      const expected = severity === 'critical' ? 'pagerduty-critical' : 'slack-warning';
      const result = await routeOf([`severity=${severity}`], expected);
      expect(result.code, `${severity}: ${result.stdout}`).toBe(0);
    }
  });

  it('the test config differs from production in nothing but the PagerDuty and Slack URLs', () => {
    const test = renderLoopbackAlertmanagerConfig(productionText(), {
      pagerduty: 'http://127.0.0.1:1/v2/enqueue',
      slack: 'http://127.0.0.1:1/slack/x',
    });
    expect(withoutUrlFields(test)).toEqual(withoutUrlFields(productionText()));
    expect(test).toContain('http://127.0.0.1:1/v2/enqueue');
    expect(test).not.toContain('events.pagerduty.com');
    expect(test).not.toContain('api_url_file');
  });
});

describe('alertmanager.yml (unhappy path)', () => {
  it('amtool --verify.receivers fails when a route sends critical alerts to chat', async () => {
    const result = await routeOf(['severity=critical'], 'slack-warning');
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/did not match/);
  });

  it('the URL-only comparison catches any other change to the test config', () => {
    const test = renderLoopbackAlertmanagerConfig(productionText(), {
      pagerduty: 'http://127.0.0.1:1/v2/enqueue',
      slack: 'http://127.0.0.1:1/slack/x',
    }).replace('group_wait: 1s', 'group_wait: 0s');
    expect(withoutUrlFields(test)).not.toEqual(withoutUrlFields(productionText()));
  });
});

/** The annotations Prometheus would attach, rendered from the committed rule for these labels. */
function annotationsFor(alert: string, labels: Record<string, string>, value: string) {
  const rule = committedAlertRules().find((r) => r.alert === alert);
  if (!rule) throw new Error(`no rule ${alert}`);
  const render = (text: string) =>
    text
      .replace(/{{ \$labels\.(\w+) }}/g, (_, name: string) => labels[name] ?? '')
      .replace(/{{ \$value[^}]*}}/g, value);
  return Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, render(v)]));
}

describe('the real Alertmanager with the test config and loopback receivers', () => {
  let dir: string;
  let receivers: LoopbackReceivers;
  let alertmanager: HttpService | undefined;
  const routingKey = 'redscope-test-routing-key-000001';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redscope-am-'));
    receivers = await LoopbackReceivers.start();
    // Same folder shape as alertmanager/: templates/ and secrets/ next to the config.
    symlinkSync(repoPath('alertmanager', 'templates'), join(dir, 'templates'));
    mkdirSync(join(dir, 'secrets'));
    writeFileSync(join(dir, 'secrets', 'pagerduty-routing-key'), `${routingKey}\n`);
    const configFile = join(dir, 'alertmanager.yml');
    writeFileSync(
      configFile,
      renderLoopbackAlertmanagerConfig(productionText(), {
        pagerduty: receivers.pagerdutyUrl,
        slack: receivers.slackUrl,
      }),
    );
    alertmanager = await startAlertmanager({ configFile, dir, port: await freePort() });
  });

  afterAll(async () => {
    await alertmanager?.stop();
    await receivers?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = { environment: 'prod', cluster: 'redscope', job: 'redis' };
  const down = { ...base, alertname: 'RedisDown', severity: 'critical', instance: 'redis-0:6379' };
  const linkDown = {
    ...base,
    alertname: 'RedisReplicaLinkDown',
    severity: 'warning',
    instance: 'redis-0:6379',
    master_host: 'redis-1',
    master_port: '6379',
  };
  const memory = {
    ...base,
    alertname: 'RedisMemoryNearMax',
    severity: 'warning',
    instance: 'redis-2:6379',
  };

  async function post(alerts: { labels: Record<string, string>; value: string }[]) {
    const response = await fetch(`${alertmanager?.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        alerts.map((a) => ({
          labels: a.labels,
          annotations: annotationsFor(a.labels.alertname ?? '', a.labels, a.value),
          startsAt: new Date().toISOString(),
        })),
      ),
    });
    expect(response.status).toBe(200);
  }

  it('pages PagerDuty (Events v2) and posts to Slack with runbook, instance and value; inhibits symptoms', async () => {
    await post([
      { labels: down, value: '0' },
      { labels: linkDown, value: '0' },
      { labels: memory, value: '95%' },
    ]);

    // PagerDuty: group_wait 1 s on the critical route.
    const page = await waitFor('a PagerDuty event', () => receivers.pagerduty[0], 10_000);
    expect(page.contentType).toMatch(/application\/json/);
    const event = page.body as {
      routing_key: string;
      event_action: string;
      dedup_key: string;
      payload: { summary: string; severity: string; custom_details: Record<string, string> };
      links: { href: string; text: string }[];
    };
    const runbook = 'https://github.com/redscope/redscope/blob/main/runbooks/RedisDown.md';
    expect(event.routing_key).toBe(routingKey);
    expect(event.event_action).toBe('trigger');
    expect(event.dedup_key).toMatch(/\S/);
    expect(event.payload.severity).toBe('critical');
    expect(event.payload.summary).toContain('RedisDown: Redis redis-0:6379 is down');
    expect(event.payload.summary).toContain('instance redis-0:6379');
    expect(event.payload.summary).toContain('value redis-0:6379=0');
    expect(event.links[0]).toEqual({ href: runbook, text: 'Runbook' });
    expect(event.payload.custom_details.runbook_url).toBe(runbook);
    expect(event.payload.custom_details.alerts).toContain(`runbook: ${runbook}`);

    // The replica-link alert of the downed instance is inhibited by RedisDown.
    const inhibited = await fetch(
      `${alertmanager?.url}/api/v2/alerts?filter=alertname%3D"RedisReplicaLinkDown"`,
    );
    const [linkState] = (await inhibited.json()) as {
      status: { state: string; inhibitedBy: string[] };
    }[];
    expect(linkState?.status.state).toBe('suppressed');
    expect(linkState?.status.inhibitedBy.length).toBe(1);

    // Slack: group_wait 10 s on the warning route.
    const chat = await waitFor('a Slack message', () => receivers.slack[0], 20_000);
    const message = chat.body as {
      channel: string;
      attachments: {
        title: string;
        title_link: string;
        text: string;
        actions: { type: string; text: string; url: string }[];
      }[];
    };
    const memoryRunbook =
      'https://github.com/redscope/redscope/blob/main/runbooks/RedisMemoryNearMax.md';
    expect(message.channel).toBe('#redis-alerts');
    const [attachment] = message.attachments;
    expect(attachment?.title).toBe('[FIRING:1] RedisMemoryNearMax in prod/redscope');
    expect(attachment?.title_link).toBe(memoryRunbook);
    expect(attachment?.text).toContain('instance: redis-2:6379 | value: 95%');
    expect(attachment?.text).toContain(`runbook: ${memoryRunbook}`);
    expect(attachment?.actions[0]).toEqual({ type: 'button', text: 'Runbook', url: memoryRunbook });

    // Nothing for the inhibited alert reached either receiver; nothing went elsewhere.
    const everything = JSON.stringify([...receivers.pagerduty, ...receivers.slack]);
    expect(everything).not.toContain('RedisReplicaLinkDown');
    expect(receivers.unexpected).toEqual([]);
  });
});
