/**
 * Just enough PromQL lexing to find vector selectors, their label matchers and range
 * durations, for the dashboard linter and the metric-name checks. Written by hand: the
 * only PromQL parsers for Node are large editor grammars, and promtool (which parses
 * properly) checks syntax separately; this only needs to find selectors in valid queries.
 */
export interface Matcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface Selector {
  /** Metric name, or '' for a selector given only by matchers. */
  readonly metric: string;
  readonly matchers: readonly Matcher[];
  /** The `[...]` range right after the selector, if any (e.g. `$__rate_interval`, `5m`). */
  readonly range?: string;
  /** The function whose argument the selector is, when directly inside one (rate, max...). */
  readonly enclosingFunction?: string;
}

// Keywords followed by a parenthesised label list, not an expression.
const LABEL_LIST_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
]);
const KEYWORDS = new Set([
  ...LABEL_LIST_KEYWORDS,
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const MATCHER =
  /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?/y;

function skipSpace(expr: string, i: number): number {
  while (i < expr.length && /\s/.test(expr.charAt(i))) i++;
  return i;
}

function closingParen(expr: string, open: number): number {
  let depth = 0;
  for (let i = open; i < expr.length; i++) {
    const c = expr.charAt(i);
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return expr.length;
}

function parseMatchers(expr: string, open: number): { matchers: Matcher[]; end: number } {
  const matchers: Matcher[] = [];
  let i = open + 1;
  for (;;) {
    i = skipSpace(expr, i);
    if (expr.charAt(i) === '}') return { matchers, end: i + 1 };
    MATCHER.lastIndex = i;
    const m = MATCHER.exec(expr);
    if (!m || m[1] === undefined || m[3] === undefined) {
      throw new Error(`cannot read label matchers at offset ${i} of: ${expr}`);
    }
    matchers.push({ name: m[1], op: m[2] as Matcher['op'], value: m[3].slice(1, -1) });
    i = MATCHER.lastIndex;
  }
}

/** Every vector selector in `expr`, in order. Throws on text it cannot read. */
export function findSelectors(expr: string): Selector[] {
  const found: Selector[] = [];
  const functions: (string | undefined)[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr.charAt(i);
    if (c === '"' || c === "'" || c === '`') {
      const end = expr.indexOf(c, i + 1);
      i = end === -1 ? expr.length : end + 1;
      continue;
    }
    if (/\d/.test(c) || (c === '.' && /\d/.test(expr.charAt(i + 1)))) {
      // Numbers and durations (`1.5`, `1e3`, `5m` outside a range).
      while (i < expr.length && /[0-9a-zA-Z.]/.test(expr.charAt(i))) i++;
      continue;
    }
    if (c === '(') {
      functions.push(undefined);
      i++;
      continue;
    }
    if (c === ')') {
      functions.pop();
      i++;
      continue;
    }
    if (c === '{' || /[a-zA-Z_:]/.test(c)) {
      let metric = '';
      let j = i;
      if (c !== '{') {
        IDENT.lastIndex = i;
        metric = IDENT.exec(expr)?.[0] ?? '';
        j = i + metric.length;
      }
      const next = skipSpace(expr, j);
      if (metric !== '' && LABEL_LIST_KEYWORDS.has(metric) && expr.charAt(next) === '(') {
        i = closingParen(expr, next) + 1;
        continue;
      }
      if (metric !== '' && KEYWORDS.has(metric.toLowerCase())) {
        i = j;
        continue;
      }
      if (metric !== '' && expr.charAt(next) === '(') {
        functions.push(metric);
        i = next + 1;
        continue;
      }
      // `sum by (le) (...)`: an aggregation with its grouping before the argument.
      if (AGGREGATIONS.has(metric)) {
        IDENT.lastIndex = next;
        const keyword = IDENT.exec(expr)?.[0];
        if (keyword === 'by' || keyword === 'without') {
          const open = skipSpace(expr, next + keyword.length);
          const argument = skipSpace(expr, closingParen(expr, open) + 1);
          functions.push(metric);
          i = argument + 1;
          continue;
        }
      }
      let matchers: Matcher[] = [];
      let end = j;
      if (expr.charAt(next) === '{') {
        ({ matchers, end } = parseMatchers(expr, next));
      }
      let range: string | undefined;
      const afterSelector = skipSpace(expr, end);
      if (expr.charAt(afterSelector) === '[') {
        const close = expr.indexOf(']', afterSelector);
        range = expr.slice(afterSelector + 1, close).trim();
        end = close + 1;
      }
      const enclosing = functions.at(-1);
      found.push({
        metric,
        matchers,
        ...(range === undefined ? {} : { range }),
        ...(enclosing === undefined ? {} : { enclosingFunction: enclosing }),
      });
      i = end;
      continue;
    }
    i++;
  }
  return found;
}
