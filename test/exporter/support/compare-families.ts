import { REDIS_EXPORTER_EXCLUSIONS, type TargetRole } from '../../../exporter/metrics-doc.js';
import type { ParsedFamily } from './parse-exposition.js';

/**
 * Differences in name, type or label names between redis_exporter's families
 * (`theirs`) and ours, apart from the documented exclusions for `role`.
 */
export function familyDifferences(
  role: TargetRole,
  theirs: Map<string, ParsedFamily>,
  mine: Map<string, ParsedFamily>,
): string[] {
  const problems: string[] = [];
  for (const [name, family] of theirs) {
    if (REDIS_EXPORTER_EXCLUSIONS.some((e) => e.match.test(name) && e.roles.includes(role)))
      continue;
    const other = mine.get(name);
    if (!other) {
      problems.push(`${role}: missing ${name} (${family.type})`);
      continue;
    }
    if (other.type !== family.type)
      problems.push(`${role}: ${name} is ${other.type}, theirs ${family.type}`);
    const a = [...family.labelNames].sort().join(',');
    const b = [...other.labelNames].sort().join(',');
    if (a !== b) problems.push(`${role}: ${name} labels {${b}}, theirs {${a}}`);
  }
  return problems;
}
