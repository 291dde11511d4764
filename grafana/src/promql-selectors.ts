import {
  childrenOf,
  descendants,
  type PromqlTree,
  parsePromql,
  type SyntaxNode,
  textOf,
  unquote,
} from './promql-tree.js';

/** The vector selectors of a query, with their matchers and ranges: what the dashboard linter and the metric-name checks read. */
export interface Matcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface Selector {
  /** Metric name, or '' for a selector given only by matchers. */
  readonly metric: string;
  readonly matchers: readonly Matcher[];
  /** The `[...]` range of a range selector, as written (e.g. `$__rate_interval`, `5m`). */
  readonly range?: string;
  /** The function or aggregation whose argument the selector is, when directly inside one (rate, max...). */
  readonly enclosingFunction?: string;
}

function labelName(tree: PromqlTree, node: SyntaxNode): string {
  // QuotedLabelName wraps a StringLiteral: `{"service.name"="x"}`.
  const literal = node.getChild('StringLiteral');
  return literal ? unquote(textOf(tree, literal)) : textOf(tree, node);
}

function matcherOf(tree: PromqlTree, node: SyntaxNode): Matcher | undefined {
  const name = node.getChild('LabelName') ?? node.getChild('QuotedLabelName');
  const op = node.getChild('MatchOp');
  const value = node.getChild('StringLiteral');
  if (!name || !op || !value) return undefined;
  return {
    name: labelName(tree, name),
    op: textOf(tree, op) as Matcher['op'],
    value: unquote(textOf(tree, value)),
  };
}

function metricOf(tree: PromqlTree, selector: SyntaxNode): string {
  const identifier = selector.getChild('Identifier');
  if (identifier) return textOf(tree, identifier);
  // A quoted name alone in the braces is the metric name: `{"redis_up", job="redis"}`.
  const quoted = selector.getChild('LabelMatchers')?.getChild('QuotedLabelName');
  return quoted ? labelName(tree, quoted) : '';
}

function enclosingFunction(tree: PromqlTree, argument: SyntaxNode): string | undefined {
  const body = argument.parent;
  const call = body?.name === 'FunctionCallBody' ? body.parent : null;
  const name = call?.getChild('FunctionIdentifier') ?? call?.getChild('AggregateOp');
  return name ? textOf(tree, name) : undefined;
}

/** Every vector selector in `expr`, in order. Throws PromqlSyntaxError on text that is not PromQL. */
export function findSelectors(expr: string): Selector[] {
  const tree = parsePromql(expr);
  return descendants(tree.top, 'VectorSelector').map((selector): Selector => {
    const list = selector.getChild('LabelMatchers');
    const matchers = (list ? childrenOf(list) : [])
      .filter((m) => m.name === 'UnquotedLabelMatcher' || m.name === 'QuotedLabelMatcher')
      .flatMap((m) => matcherOf(tree, m) ?? []);
    const matrix = selector.parent?.name === 'MatrixSelector' ? selector.parent : undefined;
    const duration = matrix?.getChild('DurationExpr');
    const enclosing = enclosingFunction(tree, matrix ?? selector);
    return {
      metric: metricOf(tree, selector),
      matchers,
      ...(duration ? { range: textOf(tree, duration).trim() } : {}),
      ...(enclosing === undefined ? {} : { enclosingFunction: enclosing }),
    };
  });
}
