import { parser } from '@prometheus-io/lezer-promql';

/**
 * PromQL syntax trees from the Prometheus team's own grammar (`@prometheus-io/lezer-promql`,
 * the parser behind the Prometheus UI's editor). Node names are the grammar's:
 * VectorSelector, MatrixSelector, LabelMatchers, AggregateExpr, FunctionCall, BinaryExpr...
 */
// Typed through the parser so that nothing here depends on @lezer/common directly.
export type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export interface PromqlTree {
  /** The expression as written: node positions index into it. */
  readonly expr: string;
  /** The PromQL node; its one child is the expression. */
  readonly top: SyntaxNode;
}

/** Thrown for text that is not PromQL; the message gives the offset and the expression. */
export class PromqlSyntaxError extends Error {
  constructor(expr: string, offset: number) {
    super(`cannot parse PromQL at offset ${offset} of: ${expr}`);
    this.name = 'PromqlSyntaxError';
  }
}

// `$var`, `${var}`, `$__rate_interval`: Grafana fills them in before Prometheus sees the
// query, so the grammar rejects them where a duration goes (`[$__rate_interval]`).
const GRAFANA_VARIABLE = /\$(?:\{[^}]*\}|\w+)/g;

/**
 * Each variable becomes a duration of the same length (`$__range` -> `9999999s`): valid in
 * a range and harmless inside a label value, where our dashboards put variables. Every
 * position in the tree then still indexes the original text, where `textOf` reads names,
 * values and ranges as written.
 */
function withoutGrafanaVariables(expr: string): string {
  return expr.replace(GRAFANA_VARIABLE, (v) => `${'9'.repeat(v.length - 1)}s`);
}

/** Parses a query as Prometheus (or Grafana, for its variables) would. Throws PromqlSyntaxError. */
export function parsePromql(expr: string): PromqlTree {
  const tree = parser.parse(withoutGrafanaVariables(expr));
  // The grammar recovers from errors by inserting error nodes; a query that needed one is invalid.
  let error: number | undefined;
  tree.iterate({
    enter: (node) => {
      if (error !== undefined) return false;
      if (node.type.isError) error = node.from;
      return undefined;
    },
  });
  if (error !== undefined) throw new PromqlSyntaxError(expr, error);
  return { expr, top: tree.topNode };
}

export const textOf = (tree: PromqlTree, node: SyntaxNode): string =>
  tree.expr.slice(node.from, node.to);

export function childrenOf(node: SyntaxNode): SyntaxNode[] {
  const children: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) children.push(child);
  return children;
}

/** Every node below `node` (itself included) named `name`, in the order they are written. */
export function descendants(node: SyntaxNode, name: string): SyntaxNode[] {
  return [
    ...(node.name === name ? [node] : []),
    ...childrenOf(node).flatMap((child) => descendants(child, name)),
  ];
}

/**
 * The value of a PromQL string literal. Backquoted strings are raw; quoted ones take Go
 * escapes, of which only the backslash-escaped character matters for label values.
 */
export function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  if (literal.startsWith('`')) return body;
  const controls: Record<string, string> = { n: '\n', t: '\t', r: '\r' };
  return body.replace(/\\(.)/g, (_, c: string) => controls[c] ?? c);
}
