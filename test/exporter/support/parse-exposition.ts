/**
 * A small parser for the Prometheus text format, written here because no
 * exposition parser is among the installed packages. It checks what the
 * compatibility tests compare (family names, types, label names, values) and
 * rejects malformed lines loudly instead of skipping them.
 */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: ParsedSample[];
  /** Label names of the samples, without `le` and `quantile`. */
  readonly labelNames: Set<string>;
}

const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

export function parseExposition(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const familyOf = (name: string): ParsedFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [], labelNames: new Set() };
      families.set(name, f);
    }
    return f;
  };
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue;
      const f = familyOf(m[2] as string);
      if (m[1] === 'TYPE') f.type = m[3] as string;
      else f.help = m[3] as string;
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
    if (!m) throw new Error(`line ${index + 1} is not a valid sample: ${line}`);
    const sampleName = m[1] as string;
    const labels = parseLabels(m[3] ?? '', index + 1);
    const value = parseValue(m[4] as string);
    let owner = families.get(sampleName);
    if (!owner) {
      for (const [type, suffixes] of Object.entries(SUFFIXES)) {
        for (const suffix of suffixes) {
          if (!sampleName.endsWith(suffix)) continue;
          const base = families.get(sampleName.slice(0, -suffix.length));
          if (base?.type === type) owner = base;
        }
      }
    }
    owner ??= familyOf(sampleName);
    owner.samples.push({ name: sampleName, labels, value });
    for (const label of Object.keys(labels)) {
      if (label !== 'le' && label !== 'quantile') owner.labelNames.add(label);
    }
  }
  return families;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`not a sample value: ${text}`);
  return n;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (!m) throw new Error(`line ${line}: bad label at "${text.slice(i)}"`);
    i += m[0].length;
    let value = '';
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        const next = text[i + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        i += 2;
      } else {
        value += text[i];
        i++;
      }
    }
    if (text[i] !== '"') throw new Error(`line ${line}: unterminated label value`);
    labels[m[1] as string] = value;
    i++;
    if (text[i] === ',') i++;
  }
  return labels;
}

/** A family's value for the given labels, or undefined. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const base = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  const sample = base?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return sample?.value;
}

/** The name other suites imported before the rename (Biome flags a declaration called valueOf). */
export { sampleValue as valueOf };
