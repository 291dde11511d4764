import { compatFamily, type MetricSink } from '../exposition.js';
import {
  type ConfigMetricsConfig,
  DEFAULT_CONFIG_PARAMETERS,
  SECRET_CONFIG_PARAMETERS,
} from '../opt-in-config.js';
import { parseGoFloat } from './go-float.js';
import type { Collector, RedisCommand } from './types.js';

const ALL_PARAMETERS =
  'redis_exporter 1.45 exports every parameter (CONFIG GET *) but four secrets; redscope exports ' +
  'the listed ones only (`config_metrics.parameters`, default in the collector above) and never ' +
  `${SECRET_CONFIG_PARAMETERS.join(', ')}`;

const keyValue = compatFamily({
  name: 'redis_config_key_value',
  type: 'gauge',
  help: 'Config key and value: 1 for every exported CONFIG parameter, its value as a label',
  labels: ['key', 'value'],
  source: 'CONFIG GET <config_metrics.parameters>',
  difference: ALL_PARAMETERS,
});

const value = compatFamily({
  name: 'redis_config_value',
  type: 'gauge',
  help: 'Config key and value as metric: the exported CONFIG parameters whose value is a number',
  labels: ['key'],
  source: 'CONFIG GET <config_metrics.parameters>, values Go strconv.ParseFloat reads',
  difference:
    `${ALL_PARAMETERS}; a value of inf or nan (which Go also reads as a number) has ` +
    'redis_config_key_value only',
});

/** The CONFIG parameters of a CONFIG GET reply (a flat name, value list) that may be exported. */
export function configParameters(reply: unknown): Map<string, string> {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) {
    throw new Error('CONFIG GET did not answer with a list of names and values');
  }
  const out = new Map<string, string>();
  for (let i = 0; i < reply.length; i += 2) {
    const name = String(reply[i]);
    // Defence in depth: the configuration rejects a secret, but an alias or a fork may still send one.
    if (SECRET_CONFIG_PARAMETERS.includes(name.toLowerCase())) continue;
    out.set(name, String(reply[i + 1]));
  }
  return out;
}

/** Writes both families for the parameters of one scrape. */
function writeConfigValues(sink: MetricSink, parameters: ReadonlyMap<string, string>): void {
  for (const [name, text] of parameters) {
    sink.add(keyValue, 1, name, text);
    const number = parseGoFloat(text);
    if (number !== undefined && Number.isFinite(number)) sink.add(value, number, name);
  }
}

/**
 * redis_exporter's `-include-config-metrics`: chosen CONFIG parameters as
 * `redis_config_key_value{key,value} 1` and, when numeric, `redis_config_value{key}`.
 * Off by default (`config_metrics.enabled`). One CONFIG GET per name in the
 * scrape's pipeline: Redis before 7 takes only one name per CONFIG GET, and a
 * multi-name one would be an error reply at every scrape there. Where CONFIG is
 * renamed away (managed Redis), the commands error and only this collector
 * (and `config`) fails.
 */
export function createConfigValuesCollector(settings: ConfigMetricsConfig): Collector {
  const names = settings.parameters.filter((name) => !SECRET_CONFIG_PARAMETERS.includes(name));
  const commands: RedisCommand[] = names.map((name) => ['CONFIG', 'GET', name]);
  return {
    name: 'config_values',
    modes: ['redis'],
    commands,
    families: [keyValue, value],
    description:
      'Off by default (`config_metrics.enabled`, `--include-config-metrics`). Exports the ' +
      'parameters in `config_metrics.parameters` (`--config-metrics`); without a list: ' +
      `${DEFAULT_CONFIG_PARAMETERS.map((p) => `\`${p}\``).join(', ')}. ` +
      `${SECRET_CONFIG_PARAMETERS.map((p) => `\`${p}\``).join(', ')} are never exported. ` +
      'One CONFIG GET per parameter in the scrape pipeline, so a Redis before 7 answers them too. ' +
      'A value is numeric when Go `strconv.ParseFloat` reads it as redis_exporter does ' +
      '(`yes`/`no` and `save` are not). Without `config|get` (or with CONFIG renamed away) ' +
      'the collector reports success 0 and the rest of the scrape is unaffected.',
    collect(context, sink) {
      const replies: unknown[] = [];
      for (const command of commands) {
        const reply = context.reply(command);
        if (!Array.isArray(reply)) throw new Error('CONFIG GET did not answer with a list');
        replies.push(...reply);
      }
      writeConfigValues(sink, configParameters(replies));
    },
  };
}
