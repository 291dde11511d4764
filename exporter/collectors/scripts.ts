import type { Logger } from 'pino';
import { compatFamily, family } from '../exposition.js';
import { valueOrThrow } from '../indexed-records.js';
import type { ScriptsConfig } from '../opt-in-config.js';
import { describeScrapeError } from '../scrape-errors.js';
import { parseGoFloat } from './go-float.js';
import type { Collector, RedisCommand } from './types.js';

const scriptValues = compatFamily({
  name: 'redis_script_values',
  type: 'gauge',
  help: 'Values returned by the collect scripts and functions, by file (function:NAME for a function) and key',
  labels: ['filename', 'key'],
  source: 'EVAL_RO <script> 0 / FCALL_RO <function> 0 (EVAL/FCALL with --script-allow-writes)',
  difference:
    'redis_exporter 1.45 runs one script and labels its values {key} only; redscope runs several ' +
    'scripts and functions, so two returning the same key stay apart by `filename` (the label ' +
    'newer redis_exporter versions add). A script that fails has result 0 and no values; in ' +
    'redis_exporter 1.45 it fails the whole scrape (redis_up 0). 1.45 also passes one argument ' +
    '(ARGV[1] = "0") and takes string values only; redscope passes none and reads integer replies too',
});

const scriptResult = family({
  name: 'redis_script_result',
  type: 'gauge',
  help: 'Whether the script or function ran and its reply parsed (a flat list of keys and numeric values): 1, 2 when the list was empty, 0 when it failed',
  labels: ['filename'],
  source: 'the EVAL_RO / FCALL_RO reply',
  difference:
    'not in redis_exporter 1.45; name and values (0 failed, 1 values, 2 empty) as in newer redis_exporter versions',
});

/**
 * A script's reply as redis_exporter reads it: a flat list `key1, value1, key2,
 * value2, ...`, values parsed with Go's ParseFloat. Integer replies (a Lua
 * number) are taken as they are. A key given twice keeps its last value.
 * Throws when the reply is anything else.
 */
export function parseScriptReply(reply: unknown): Map<string, number> {
  if (!Array.isArray(reply)) {
    throw new Error('the reply is not a list of keys and values');
  }
  if (reply.length % 2 !== 0) {
    throw new Error(`the reply has ${reply.length} elements; keys and values come in pairs`);
  }
  const values = new Map<string, number>();
  for (let i = 0; i < reply.length; i += 2) {
    const key = reply[i];
    const raw = reply[i + 1];
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw new Error(`element ${i + 1} is not a key (a string)`);
    }
    const value =
      typeof raw === 'number' ? raw : typeof raw === 'string' ? parseGoFloat(raw) : undefined;
    if (value === undefined) {
      throw new Error(`the value of ${JSON.stringify(String(key))} is not a number`);
    }
    values.set(String(key), value);
  }
  return values;
}

interface Call {
  readonly filename: string;
  readonly command: RedisCommand;
}

/** Redis' answer to a script that is not valid Lua (Lua 5.1 on every Redis: the same everywhere). */
const COMPILE_ERROR = /Error compiling script/;

/**
 * redis_exporter's `-script`: Lua scripts (EVAL_RO) and Redis functions
 * (FCALL_RO), all in one round trip per scrape, whose replies become
 * `redis_script_values{filename,key}`. Registered only when scripts or functions
 * are configured. A script Redis refuses (compile error, NOPERM, a write from a
 * read-only script, EVAL_RO unknown before Redis 7) or whose reply does not
 * parse gets `redis_script_result 0` and a debug log; the collector fails only
 * when every script failed.
 */
export function createScriptsCollector(settings: ScriptsConfig, logger?: Logger): Collector {
  const evalCommand = settings.allowWrites ? 'EVAL' : 'EVAL_RO';
  const fcallCommand = settings.allowWrites ? 'FCALL' : 'FCALL_RO';
  const calls: Call[] = [
    // The text each scrape, as redis_exporter does: EVALSHA_RO would need SCRIPT LOAD rights.
    ...settings.scripts.map((script) => ({
      filename: script.name,
      command: [evalCommand, script.text, '0'],
    })),
    ...settings.functions.map((name) => ({
      filename: `function:${name}`,
      command: [fcallCommand, name, '0'],
    })),
  ];
  /** Scripts Redis refused to compile, with its error: reported at every scrape, never sent again. */
  const uncompilable = new Map<string, Error>();
  return {
    name: 'scripts',
    modes: ['redis'],
    commands: [],
    families: [scriptValues, scriptResult],
    description:
      'Off by default: runs the Lua scripts of `scripts` (`--script`) with EVAL_RO and the ' +
      'functions of `functions` (`--function`) with FCALL_RO (EVAL/FCALL with ' +
      '`script_allow_writes`), no keys, in one round trip per scrape. Each must return a flat ' +
      'list `key1, value1, key2, value2, ...` with numeric values. `filename` is the file name ' +
      '(`function:NAME` for a function). `redis_script_result` is 1 for a script that returned ' +
      'values, 2 for an empty list, 0 for a script Redis refused or whose reply does not parse ' +
      '(no values then, and a debug log); the collector reports success 0 only when every ' +
      'script failed. A script Redis cannot compile is sent once and then reported failed ' +
      'without being sent again, until the exporter restarts.',
    async collect(context, sink) {
      if (calls.length === 0) return;
      // A script Redis could not compile fails the same way on every target: sent once, not at
      // every scrape (each would be an error reply in Redis' errorstats).
      const sent = calls.filter((call) => !uncompilable.has(call.filename));
      const results = await context.roundTrip(sent.map((call) => call.command));
      const resultOf = new Map(sent.map((call, i) => [call.filename, results[i]]));
      const failures: string[] = [];
      calls.forEach((call) => {
        let values: Map<string, number>;
        try {
          const known = uncompilable.get(call.filename);
          if (known !== undefined) throw known;
          const result = resultOf.get(call.filename);
          let reply: unknown;
          try {
            reply = valueOrThrow(result);
          } catch (error) {
            if (error instanceof Error && COMPILE_ERROR.test(error.message)) {
              uncompilable.set(call.filename, error);
            }
            throw error;
          }
          values = parseScriptReply(reply);
        } catch (error) {
          const message = describeScrapeError(error);
          failures.push(`${call.filename}: ${message}`);
          logger?.debug(
            { target: context.target, filename: call.filename, err: message },
            'script failed',
          );
          sink.add(scriptResult, 0, call.filename);
          return;
        }
        // 2: ran but returned nothing, as newer redis_exporter versions report it.
        sink.add(scriptResult, values.size > 0 ? 1 : 2, call.filename);
        for (const [key, value] of values) sink.add(scriptValues, value, call.filename, key);
      });
      if (failures.length === calls.length) {
        throw new Error(`every script failed: ${failures.join('; ')}`);
      }
    },
  };
}
