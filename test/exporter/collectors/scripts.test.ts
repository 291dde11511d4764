import { ReplyError } from 'ioredis';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { createScriptsCollector, parseScriptReply } from '../../../exporter/collectors/scripts.js';
import type { CollectContext, RedisCommand } from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import type { ScriptsConfig } from '../../../exporter/opt-in-config.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';

/** Answers the scripts' round trip by the command's second word (script text or function name). */
function context(answers: Record<string, unknown>): CollectContext & { trips: RedisCommand[][] } {
  const trips: RedisCommand[][] = [];
  return {
    trips,
    reply: () => {
      throw new Error('the scripts collector declares no pipeline command');
    },
    info: () => parseInfo(''),
    roundTrip: async (commands) => {
      trips.push([...commands]);
      return commands.map((command): PromiseSettledResult<unknown> => {
        const answer = answers[command[1] as string];
        return answer instanceof Error
          ? { status: 'rejected', reason: answer }
          : { status: 'fulfilled', value: answer };
      });
    },
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

function settings(
  scripts: Record<string, string>,
  functions: string[] = [],
  allowWrites = false,
): ScriptsConfig {
  return {
    scripts: Object.entries(scripts).map(([name, text]) => ({ name, path: `/etc/${name}`, text })),
    functions,
    allowWrites,
  };
}

function debugLog(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = {
    debug: (fields: Record<string, unknown>, msg: string) => lines.push({ ...fields, msg }),
  } as unknown as Logger;
  return { logger, lines };
}

describe('the scripts collector', () => {
  describe('happy', () => {
    it('runs every script with EVAL_RO and every function with FCALL_RO, in one round trip', async () => {
      const ctx = context({ 'return 1': [], queue: [] });
      await createScriptsCollector(settings({ 'a.lua': 'return 1' }, ['queue'])).collect(
        ctx,
        new MetricSink(),
      );
      expect(ctx.trips).toEqual([
        [
          ['EVAL_RO', 'return 1', '0'],
          ['FCALL_RO', 'queue', '0'],
        ],
      ]);
    });

    it('uses EVAL and FCALL when writes are allowed', async () => {
      const ctx = context({ 'return 1': [], queue: [] });
      await createScriptsCollector(settings({ 'a.lua': 'return 1' }, ['queue'], true)).collect(
        ctx,
        new MetricSink(),
      );
      expect(ctx.trips[0]?.map((c) => c[0])).toEqual(['EVAL', 'FCALL']);
    });

    it('exports the values by filename and key, two scripts with the same key apart', async () => {
      const sink = new MetricSink();
      await createScriptsCollector(settings({ 'a.lua': 'A', 'b.lua': 'B' }, ['fn'])).collect(
        context({ A: ['depth', '12', 'rate', '0.5'], B: ['depth', 3], fn: ['depth', '-1e3'] }),
        sink,
      );
      const parsed = parseExposition(sink.render());
      expect(sampleValue(parsed, 'redis_script_values', { filename: 'a.lua', key: 'depth' })).toBe(
        12,
      );
      expect(sampleValue(parsed, 'redis_script_values', { filename: 'a.lua', key: 'rate' })).toBe(
        0.5,
      );
      expect(sampleValue(parsed, 'redis_script_values', { filename: 'b.lua', key: 'depth' })).toBe(
        3,
      );
      expect(
        sampleValue(parsed, 'redis_script_values', { filename: 'function:fn', key: 'depth' }),
      ).toBe(-1000);
      for (const filename of ['a.lua', 'b.lua', 'function:fn'])
        expect(sampleValue(parsed, 'redis_script_result', { filename })).toBe(1);
    });

    it('reports an empty reply as result 2 with no values, as newer redis_exporter versions do', async () => {
      const sink = new MetricSink();
      await createScriptsCollector(settings({ 'a.lua': 'A' })).collect(context({ A: [] }), sink);
      const parsed = parseExposition(sink.render());
      expect(sampleValue(parsed, 'redis_script_result', { filename: 'a.lua' })).toBe(2);
      expect(parsed.has('redis_script_values')).toBe(false);
    });

    it('parses replies like redis_exporter: pairs, Go floats, the last of a repeated key', () => {
      expect([...parseScriptReply(['a', '1_000', 'b', 'inf', 'a', '0x1p4', 'c', 7])]).toEqual([
        ['a', 16],
        ['b', Infinity],
        ['c', 7],
      ]);
    });
  });

  describe('unhappy', () => {
    it('gives a refused script result 0, no values and a debug log with the file and the message, the others still report', async () => {
      const { logger, lines } = debugLog();
      const sink = new MetricSink();
      const compile = new ReplyError(
        "ERR Error compiling script (new function): user_script:1: '=' expected near 'BROKEN'",
      );
      await createScriptsCollector(
        settings({ 'good.lua': 'G', 'broken.lua': 'X', 'text.lua': 'T' }),
        logger,
      ).collect(context({ G: ['k', '1'], X: compile, T: ['k', 'abc'] }), sink);
      const parsed = parseExposition(sink.render());
      expect(sampleValue(parsed, 'redis_script_result', { filename: 'good.lua' })).toBe(1);
      expect(sampleValue(parsed, 'redis_script_result', { filename: 'broken.lua' })).toBe(0);
      expect(sampleValue(parsed, 'redis_script_result', { filename: 'text.lua' })).toBe(0);
      expect(parsed.get('redis_script_values')?.samples.map((s) => s.labels.filename)).toEqual([
        'good.lua',
      ]);
      expect(lines).toEqual([
        expect.objectContaining({
          filename: 'broken.lua',
          err: expect.stringContaining('Error compiling script'),
          msg: 'script failed',
        }),
        expect.objectContaining({
          filename: 'text.lua',
          err: expect.stringContaining('"k" is not a number'),
        }),
      ]);
    });

    it('fails the collector when every script failed', async () => {
      const noperm = new ReplyError(
        "NOPERM this user has no permissions to run the 'eval_ro' command",
      );
      await expect(
        createScriptsCollector(settings({ 'a.lua': 'A' }, ['fn'])).collect(
          context({ A: noperm, fn: 'not a list' }),
          new MetricSink(),
        ),
      ).rejects.toThrow(
        /every script failed: a\.lua: NOPERM.*; function:fn: the reply is not a list/,
      );
    });

    it.each([
      ['a string', 'OK', /not a list/],
      ['an odd list', ['a', '1', 'b'], /pairs/],
      ['a nested list', ['a', ['1']], /not a number/],
      ['a nil value', ['a', null], /not a number/],
      ['a non-numeric value', ['a', '12 apples'], /not a number/],
      ['a key that is not a string', [['a'], '1'], /not a key/],
    ])('rejects %s', (_what, reply, message) => {
      expect(() => parseScriptReply(reply)).toThrow(message);
    });
  });
});
