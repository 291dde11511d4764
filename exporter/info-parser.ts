/** One INFO reply: fields by section (section names lower-cased, as in `INFO <section>`). */
export interface ParsedInfo {
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Every field of every section; a later duplicate overrides an earlier one. */
  readonly fields: ReadonlyMap<string, string>;
}

/**
 * Parses `INFO` output. Unknown sections and fields (a newer Redis, Valkey,
 * KeyDB) are kept rather than rejected: collectors pick what they know.
 */
export function parseInfo(text: string): ParsedInfo {
  const sections = new Map<string, Map<string, string>>();
  const fields = new Map<string, string>();
  let current = new Map<string, string>();
  sections.set('', current);
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) continue;
    if (line.startsWith('# ')) {
      const name = line.slice(2).trim().toLowerCase();
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1);
    current.set(key, value);
    fields.set(key, value);
  }
  return { sections, fields };
}

/** `a=1,b=2` (slave lines, keyspace, commandstats) as a map. */
export function parseKeyValueList(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

/** A number from an INFO value, or undefined when it is not one (`ok`, `1.2M`, empty). */
export function numeric(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value.endsWith('%') ? value.slice(0, -1) : value);
  return Number.isFinite(n) ? n : undefined;
}
