/**
 * Prometheus text exposition (format 0.0.4), written by hand rather than through
 * prom-client: a scrape builds a few hundred samples from one Redis reply and
 * throws them away, and creating prom-client metric objects per scrape costs
 * more than the Redis round trip itself. Families are declared once, statically,
 * so docs/metrics.md is generated from the very objects the collectors write to.
 */

export type MetricType = 'gauge' | 'counter' | 'histogram' | 'summary';

/** A metric family: its identity on the wire plus where it comes from, for the docs. */
export interface FamilySpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  /** The Redis command or INFO field the values come from. */
  readonly source: string;
  /** The redis_exporter 1.45 family with the same name, type and labels, if any. */
  readonly redisExporter?: string;
  /** A deliberate difference from redis_exporter, with the reason. */
  readonly difference?: string;
}

/** Declares a family; redis_exporter-compatible families name themselves by default. */
export function family(spec: FamilySpec): FamilySpec {
  return Object.freeze({ ...spec, labels: Object.freeze([...spec.labels]) });
}

/** `redis_*` family that keeps redis_exporter's name, type and labels. */
export function compatFamily(spec: Omit<FamilySpec, 'redisExporter'>): FamilySpec {
  return family({ ...spec, redisExporter: spec.name });
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

const NEEDS_ESCAPE = /[\\"\n]/;

export function escapeLabelValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  let text = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) text += ',';
    text += `${names[i]}="${escapeLabelValue(values[i] ?? '')}"`;
  }
  return `${text}}`;
}

/**
 * Samples of one scrape (or one collector's share of it), grouped by family.
 * A collector writes into its own sink, merged into the response only when the
 * collector finished: a collector that fails half way leaves no half-written family.
 */
export class MetricSink {
  private readonly series = new Map<FamilySpec, string[]>();

  private linesOf(spec: FamilySpec): string[] {
    let lines = this.series.get(spec);
    if (!lines) {
      lines = [];
      this.series.set(spec, lines);
    }
    return lines;
  }

  /** One gauge or counter sample; label values in the order of `spec.labels`. */
  add(spec: FamilySpec, value: number, ...labelValues: string[]): void {
    this.linesOf(spec).push(
      `${spec.name}${labelText(spec.labels, labelValues)} ${formatValue(value)}`,
    );
  }

  /** A histogram series; `buckets` are cumulative counts by upper bound, without +Inf. */
  histogram(
    spec: FamilySpec,
    labelValues: readonly string[],
    buckets: readonly (readonly [number, number])[],
    sum: number,
    count: number,
  ): void {
    const lines = this.linesOf(spec);
    const names = [...spec.labels, 'le'];
    for (const [le, cumulative] of buckets) {
      lines.push(
        `${spec.name}_bucket${labelText(names, [...labelValues, formatValue(le)])} ${formatValue(cumulative)}`,
      );
    }
    lines.push(
      `${spec.name}_bucket${labelText(names, [...labelValues, '+Inf'])} ${formatValue(count)}`,
    );
    const base = labelText(spec.labels, labelValues);
    lines.push(`${spec.name}_sum${base} ${formatValue(sum)}`);
    lines.push(`${spec.name}_count${base} ${formatValue(count)}`);
  }

  /** A summary series; `quantiles` as [quantile label, value]. */
  summary(
    spec: FamilySpec,
    labelValues: readonly string[],
    quantiles: readonly (readonly [string, number])[],
    sum: number,
    count: number,
  ): void {
    const lines = this.linesOf(spec);
    const names = [...spec.labels, 'quantile'];
    for (const [quantile, value] of quantiles) {
      lines.push(
        `${spec.name}${labelText(names, [...labelValues, quantile])} ${formatValue(value)}`,
      );
    }
    const base = labelText(spec.labels, labelValues);
    lines.push(`${spec.name}_sum${base} ${formatValue(sum)}`);
    lines.push(`${spec.name}_count${base} ${formatValue(count)}`);
  }

  /** Moves every sample of `other` into this sink. */
  merge(other: MetricSink): void {
    for (const [spec, lines] of other.series) {
      const mine = this.series.get(spec);
      if (mine) for (const line of lines) mine.push(line);
      else this.series.set(spec, lines);
    }
  }

  get familyCount(): number {
    return this.series.size;
  }

  has(name: string): boolean {
    for (const spec of this.series.keys()) if (spec.name === name) return true;
    return false;
  }

  /** The exposition text: HELP, TYPE, then the samples, one family after another. */
  render(): string {
    const parts: string[] = [];
    for (const [spec, lines] of this.series) {
      parts.push(
        `# HELP ${spec.name} ${escapeHelp(spec.help)}\n# TYPE ${spec.name} ${spec.type}\n`,
      );
      parts.push(lines.join('\n'));
      parts.push('\n');
    }
    return parts.join('');
  }
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
