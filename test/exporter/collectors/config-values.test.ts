import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  configParameters,
  createConfigValuesCollector,
} from '../../../exporter/collectors/config-values.js';
import { parseGoFloat } from '../../../exporter/collectors/go-float.js';
import type { CollectContext, RedisCommand } from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';

/** Canned first-pipeline replies; `more` answers further round trips command by command. */
function context(
  replies: Record<string, unknown>,
  more: (command: RedisCommand) => unknown = () => {
    throw new Error('no round trip expected');
  },
): CollectContext & { trips: RedisCommand[][] } {
  const trips: RedisCommand[][] = [];
  const reply = (command: RedisCommand) => {
    const value = replies[command.join(' ')];
    if (value instanceof Error) throw value;
    return value;
  };
  const roundTrip = async (commands: readonly RedisCommand[]) => {
    trips.push([...commands]);
    return commands.map((command): PromiseSettledResult<unknown> => {
      try {
        return { status: 'fulfilled', value: more(command) };
      } catch (reason) {
        return { status: 'rejected', reason };
      }
    });
  };
  return {
    trips,
    reply,
    info: () => parseInfo(String(reply(['INFO', 'ALL']))),
    roundTrip,
    roundTripOn: async () => {
      throw new Error('no round trip on another database expected');
    },
    connection: {},
    mode: 'redis',
    target: 'redis://127.0.0.1:6379',
    scope: 'redis://127.0.0.1:6379 test',
    deadline: Date.now() + 10_000,
    options: { clientNameCap: 2 },
    nowSeconds: 1000,
  };
}

async function collect(parameters: string[], ctx: CollectContext) {
  const collector = createConfigValuesCollector({ enabled: true, parameters });
  const sink = new MetricSink();
  await collector.collect(ctx, sink);
  return parseExposition(sink.render());
}

describe('the config values collector', () => {
  describe('happy', () => {
    it('sends one CONFIG GET per listed name in the scrape pipeline: a Redis before 7 answers each', () => {
      const collector = createConfigValuesCollector({
        enabled: true,
        parameters: ['maxmemory', 'save', 'hz'],
      });
      // A multi-name CONFIG GET is an error reply on Redis 6 at every scrape.
      expect(collector.commands).toEqual([
        ['CONFIG', 'GET', 'maxmemory'],
        ['CONFIG', 'GET', 'save'],
        ['CONFIG', 'GET', 'hz'],
      ]);
      expect(collector.name).toBe('config_values');
    });

    it('exports every parameter as key_value 1 and the numeric ones as config_value', async () => {
      const parsed = await collect(
        ['maxmemory', 'save', 'appendonly', 'hz', 'notify-keyspace-events'],
        context({
          'CONFIG GET maxmemory': ['maxmemory', '104857600'],
          'CONFIG GET save': ['save', '3600 1 300 100'],
          'CONFIG GET appendonly': ['appendonly', 'no'],
          'CONFIG GET hz': ['hz', '10'],
          'CONFIG GET notify-keyspace-events': ['notify-keyspace-events', ''],
        }),
      );
      expect(parsed.get('redis_config_key_value')?.samples).toHaveLength(5);
      expect(
        sampleValue(parsed, 'redis_config_key_value', { key: 'save', value: '3600 1 300 100' }),
      ).toBe(1);
      expect(
        sampleValue(parsed, 'redis_config_key_value', { key: 'appendonly', value: 'no' }),
      ).toBe(1);
      expect(
        sampleValue(parsed, 'redis_config_key_value', { key: 'notify-keyspace-events', value: '' }),
      ).toBe(1);
      expect(sampleValue(parsed, 'redis_config_value', { key: 'maxmemory' })).toBe(104857600);
      expect(sampleValue(parsed, 'redis_config_value', { key: 'hz' })).toBe(10);
      // `yes`/`no`, `save` and an empty value are not numbers for Go's ParseFloat.
      expect(
        parsed
          .get('redis_config_value')
          ?.samples.map((s) => s.labels.key)
          .sort(),
      ).toEqual(['hz', 'maxmemory']);
    });

    it('needs no further round trip', async () => {
      const ctx = context({
        'CONFIG GET maxmemory': ['maxmemory', '0'],
        'CONFIG GET hz': ['hz', '10'],
      });
      const parsed = await collect(['maxmemory', 'hz'], ctx);
      expect(ctx.trips).toEqual([]);
      expect(sampleValue(parsed, 'redis_config_value', { key: 'hz' })).toBe(10);
      expect(sampleValue(parsed, 'redis_config_value', { key: 'maxmemory' })).toBe(0);
    });
  });

  describe('unhappy', () => {
    it('never exports a secret parameter, even when the reply carries one', () => {
      const parameters = configParameters([
        'requirepass',
        'hunter2',
        'masterauth',
        'x',
        'masteruser',
        'repl',
        'tls-key-file-pass',
        'y',
        'tls-client-key-file-pass',
        'z',
        'MASTERAUTH',
        'w',
        'hz',
        '10',
      ]);
      expect([...parameters.keys()]).toEqual(['hz']);
    });

    it('leaves a secret out of the command even if the settings carry one', () => {
      const collector = createConfigValuesCollector({
        enabled: true,
        parameters: ['hz', 'requirepass'],
      });
      expect(collector.commands).toEqual([['CONFIG', 'GET', 'hz']]);
    });

    it('fails (so only this collector reports success 0) when CONFIG is refused or renamed away', async () => {
      const unknown = new ReplyError(
        "ERR unknown command 'CONFIG', with args beginning with: 'GET' ",
      );
      await expect(collect(['hz'], context({ 'CONFIG GET hz': unknown }))).rejects.toThrow(
        /unknown command 'CONFIG'/,
      );
      const noperm = new ReplyError(
        "NOPERM this user has no permissions to run the 'config|get' command",
      );
      await expect(
        collect(['hz', 'save'], context({ 'CONFIG GET hz': noperm, 'CONFIG GET save': noperm })),
      ).rejects.toThrow(/NOPERM/);
    });

    it('rejects a reply that is not a list of names and values', () => {
      expect(() => configParameters('OK')).toThrow(/names and values/);
      expect(() => configParameters(['hz'])).toThrow(/names and values/);
    });
  });
});

describe("Go's strconv.ParseFloat, as redis_exporter 1.45 reads values", () => {
  describe('happy', () => {
    // Each checked against prometheus-redis-exporter 1.45 with CONFIG SET replica-announce-ip <value>.
    it.each([
      ['10', 10],
      ['+5', 5],
      ['.5', 0.5],
      ['5.', 5],
      ['1e3', 1000],
      ['0x1p4', 16],
      ['0x1.8p1', 3],
      ['1_0', 10],
      ['00012', 12],
      ['-0', -0],
      ['-2.5E-3', -0.0025],
      ['inf', Infinity],
      ['Infinity', Infinity],
      ['-inf', -Infinity],
    ])('reads %j as %d', (text, expected) => {
      expect(parseGoFloat(text)).toBe(expected);
    });

    it('reads NaN in any case', () => {
      expect(parseGoFloat('NaN')).toBeNaN();
      expect(parseGoFloat('nan')).toBeNaN();
    });
  });

  describe('unhappy', () => {
    it.each([
      '',
      ' 5',
      '5 ',
      '0x10',
      '1e400',
      'yes',
      'no',
      '3600 1 300 100',
      '1.2.3',
      '1e',
      '_1',
      '1_',
      '1__0',
      '1_.5',
      '+nan',
      'infin',
      '.',
      '0x',
      '0xp4',
      '100mb',
    ])('does not read %j', (text) => {
      expect(parseGoFloat(text)).toBeUndefined();
    });
  });
});
