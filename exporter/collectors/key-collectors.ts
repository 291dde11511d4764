import { randomBytes } from 'node:crypto';
import { KeyRedactor } from '../../client/common/key-redaction.js';
import { isLiteralPattern } from '../keys/key-collector-support.js';
import { KeyScanner } from '../keys/key-scan.js';
import type { KeyChecksConfig } from '../opt-in-config.js';
import type { DroppedSeries } from '../series-cap.js';
import { createCountKeysCollector } from './count-keys.js';
import { createKeyChecksCollector } from './key-checks.js';
import { createKeyGroupsCollector } from './key-groups.js';
import { createStreamsCollector } from './streams.js';
import type { Collector } from './types.js';

/**
 * The key collectors a `key_checks` configuration turns on (none by default),
 * sharing one KeyScanner, so their SCANs together stay within
 * `key_checks.budget_seconds` per scrape, and one redactor for key names
 * found by patterns: `redactor` (with the deployment's secret) when given,
 * else one with a random secret per process.
 */
export function createKeyCollectors(
  config: KeyChecksConfig | undefined,
  droppedSeries: DroppedSeries,
  redactor?: KeyRedactor,
): Collector[] {
  if (config === undefined) return [];
  const keyPatterns = config.keys.some((spec) => !isLiteralPattern(spec.key));
  const streamPatterns = config.streams.some((spec) => !isLiteralPattern(spec.key));
  const keyChecks = config.keys.length + config.singleKeys.length > 0;
  const streams = config.streams.length + config.singleStreams.length > 0;
  const countKeys = config.countKeys.length > 0;
  const keyGroups = config.keyGroups.length > 0;
  const scanning = [keyPatterns, countKeys, keyGroups, streamPatterns].filter(Boolean).length;
  if (!keyChecks && !streams && scanning === 0) return [];
  const scanner =
    scanning > 0 ? new KeyScanner(config.batchSize, config.budgetMs, scanning) : undefined;
  const names =
    redactor ??
    // No deployment secret configured: labels stay stable until the exporter restarts.
    new KeyRedactor({ secret: randomBytes(24).toString('hex') });
  const out: Collector[] = [];
  if (keyChecks) {
    out.push(createKeyChecksCollector({ config, scanner, redactor: names, droppedSeries }));
  }
  if (streams) {
    out.push(createStreamsCollector({ config, scanner, redactor: names, droppedSeries }));
  }
  if (countKeys && scanner) out.push(createCountKeysCollector(config, scanner));
  if (keyGroups && scanner) {
    out.push(createKeyGroupsCollector({ config, scanner, redactor: names, droppedSeries }));
  }
  return out;
}
