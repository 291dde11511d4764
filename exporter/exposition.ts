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

/** `a="x",b="y"`: the label pairs without braces; a missing value is empty. */
function labelPairs(names: readonly string[], values: readonly string[]): string {
  let text = '';
  for (let i = 0; i < names.length; i++) {
    text += `${i > 0 ? ',' : ''}${names[i]}="${escapeLabelValue(values[i] ?? '')}"`;
  }
  return text;
}

function labelText(names: readonly string[], values: readonly string[]): string {
  return names.length === 0 ? '' : `{${labelPairs(names, values)}}`;
}

/** Each family's `# HELP` and `# TYPE` lines, built once per family rather than per scrape. */
const headers = new WeakMap<FamilySpec, string>();

function header(spec: FamilySpec): string {
  let text = headers.get(spec);
  if (text === undefined) {
    text = `# HELP ${spec.name} ${escapeHelp(spec.help)}\n# TYPE ${spec.name} ${spec.type}\n`;
    headers.set(spec, text);
  }
  return text;
}

/** Lines are kept in flat chunks of about this many characters. */
const CHUNK_CHARS = 16 * 1024;

/**
 * `text` as one flat string: V8 keeps a string built with `+` as a tree of its
 * pieces (~32 bytes a node, ~4 nodes a sample line: 400 bytes for an 80-byte
 * line) and copies it into one flat string, letting the pieces go, the first
 * time a character is read.
 */
function flat(text: string): string {
  // Only '' has no first character; the test keeps the read from being optimized away.
  return Number.isNaN(text.charCodeAt(0)) ? '' : text;
}

/**
 * One family's sample lines, each ending in a newline: flat chunks of about
 * CHUNK_CHARS, then the lines since. A family of 100,000 series holds about
 * its text's size, not 5 times that.
 */
class Lines {
  readonly chunks: string[] = [];
  tail = '';

  push(line: string): void {
    this.tail += line;
    if (this.tail.length >= CHUNK_CHARS) this.flush();
  }

  flush(): void {
    if (this.tail === '') return;
    this.chunks.push(flat(this.tail));
    this.tail = '';
  }
}

/**
 * Samples of one scrape (or one collector's share of it), grouped by family.
 * A collector writes into its own sink, merged into the response only when the
 * collector finished: a collector that fails half way leaves no half-written family.
 *
 * Written for little memory and garbage per scrape (every byte allocated is
 * collected again under a small young generation, exporter/node-flags.ts): a
 * series' label text is built once for all of a histogram's lines, lines are
 * kept in flat chunks (Lines), `render` copies them into the response text
 * once, and loops avoid iterators (without TurboFan every step of one allocates).
 */
export class MetricSink {
  private readonly series = new Map<FamilySpec, Lines>();

  private linesOf(spec: FamilySpec): Lines {
    let lines = this.series.get(spec);
    if (!lines) {
      lines = new Lines();
      this.series.set(spec, lines);
    }
    return lines;
  }

  /** One gauge or counter sample; label values in the order of `spec.labels`. */
  add(spec: FamilySpec, value: number, ...labelValues: string[]): void {
    this.linesOf(spec).push(
      `${spec.name}${labelText(spec.labels, labelValues)} ${formatValue(value)}\n`,
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
    if (labelValues.length === spec.labels.length) {
      const pairs = labelPairs(spec.labels, labelValues);
      const bucket = `${spec.name}_bucket{${pairs}${pairs === '' ? '' : ','}le="`;
      for (let i = 0; i < buckets.length; i++) {
        const point = buckets[i] as readonly [number, number];
        lines.push(`${bucket}${formatValue(point[0])}"} ${formatValue(point[1])}\n`);
      }
      lines.push(`${bucket}+Inf"} ${formatValue(count)}\n`);
    } else {
      const points = buckets.map(([le, cumulative]) => [formatValue(le), cumulative] as const);
      points.push(['+Inf', count]);
      for (const line of linesOneByOne(spec, '_bucket', 'le', labelValues, points)) {
        lines.push(line);
      }
    }
    const base = labelText(spec.labels, labelValues);
    lines.push(`${spec.name}_sum${base} ${formatValue(sum)}\n`);
    lines.push(`${spec.name}_count${base} ${formatValue(count)}\n`);
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
    if (labelValues.length === spec.labels.length) {
      const pairs = labelPairs(spec.labels, labelValues);
      const prefix = `${spec.name}{${pairs}${pairs === '' ? '' : ','}quantile="`;
      for (let i = 0; i < quantiles.length; i++) {
        const point = quantiles[i] as readonly [string, number];
        lines.push(`${prefix}${escapeLabelValue(point[0])}"} ${formatValue(point[1])}\n`);
      }
    } else {
      for (const line of linesOneByOne(spec, '', 'quantile', labelValues, quantiles)) {
        lines.push(line);
      }
    }
    const base = labelText(spec.labels, labelValues);
    lines.push(`${spec.name}_sum${base} ${formatValue(sum)}\n`);
    lines.push(`${spec.name}_count${base} ${formatValue(count)}\n`);
  }

  /** Moves every sample of `other` into this sink. */
  merge(other: MetricSink): void {
    other.series.forEach((lines, spec) => {
      const mine = this.series.get(spec);
      if (!mine) {
        this.series.set(spec, lines);
        return;
      }
      mine.flush();
      for (let i = 0; i < lines.chunks.length; i++) mine.chunks.push(lines.chunks[i] as string);
      mine.tail = lines.tail;
    });
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
    let count = 0;
    this.series.forEach((lines) => {
      count += 2 + lines.chunks.length;
    });
    const parts = new Array<string>(count);
    let at = 0;
    this.series.forEach((lines, spec) => {
      parts[at++] = header(spec);
      for (let i = 0; i < lines.chunks.length; i++) parts[at++] = lines.chunks[i] as string;
      parts[at++] = lines.tail;
    });
    return parts.join('');
  }
}

/**
 * A histogram's or summary's lines, label text and all, written one by one:
 * `extra` is `le` or `quantile`, `points` its values with the sample values.
 * Only for label values that do not match the family's labels one to one (not
 * how collectors call it): the output stays what it has always been then.
 */
function linesOneByOne(
  spec: FamilySpec,
  suffix: string,
  extra: string,
  labelValues: readonly string[],
  points: readonly (readonly [string, number])[],
): string[] {
  const names = [...spec.labels, extra];
  return points.map(
    ([point, value]) =>
      `${spec.name}${suffix}${labelText(names, [...labelValues, point])} ${formatValue(value)}\n`,
  );
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
