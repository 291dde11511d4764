import yaml from 'js-yaml';

/**
 * The loopback Alertmanager config (tests and `redscope up`): the production alertmanager.yml with the PagerDuty
 * and Slack URL fields pointed at loopback receivers, and nothing else changed (a test
 * proves it by comparing both with `withoutUrlFields`). Relative paths (templates/,
 * secrets/) resolve next to wherever the copy is written, so the caller lays out the
 * same folder shape.
 */
export interface LoopbackUrls {
  /** Events v2 endpoint, e.g. http://127.0.0.1:PORT/v2/enqueue. */
  readonly pagerduty: string;
  /** Incoming-webhook URL, e.g. http://127.0.0.1:PORT/slack/T000/B000/XXX. */
  readonly slack: string;
}

interface Receiver {
  name: string;
  pagerduty_configs?: Record<string, unknown>[];
  slack_configs?: Record<string, unknown>[];
  [key: string]: unknown;
}

interface Config {
  receivers?: Receiver[];
  [key: string]: unknown;
}

function parse(text: string): Config {
  return yaml.load(text) as Config;
}

export function renderLoopbackAlertmanagerConfig(production: string, urls: LoopbackUrls): string {
  const config = parse(production);
  for (const receiver of config.receivers ?? []) {
    for (const pd of receiver.pagerduty_configs ?? []) pd.url = urls.pagerduty;
    for (const slack of receiver.slack_configs ?? []) {
      // The webhook URL is a secret in production (a file); in tests it is loopback.
      delete slack.api_url_file;
      slack.api_url = urls.slack;
    }
  }
  return `# GENERATED from alertmanager/alertmanager.yml for loopback receivers: only URLs changed.\n${yaml.dump(config, { lineWidth: -1 })}`;
}

/** The config with the URL fields removed: production and test copies must agree on the rest. */
export function withoutUrlFields(text: string): Config {
  const config = parse(text);
  for (const receiver of config.receivers ?? []) {
    for (const pd of receiver.pagerduty_configs ?? []) delete pd.url;
    for (const slack of receiver.slack_configs ?? []) {
      delete slack.api_url;
      delete slack.api_url_file;
    }
  }
  return config;
}
