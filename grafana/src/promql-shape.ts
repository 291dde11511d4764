import { INSTANCE_LABELS } from '../../bundle/series.js';
import {
  childrenOf,
  type PromqlTree,
  parsePromql,
  type SyntaxNode,
  textOf,
} from './promql-tree.js';

/**
 * The shape of a query: what it computes, whatever selects its series. Rules select
 * `job="redis"` over `[1m]`; dashboards select `environment=~"$environment"` over
 * `[$__rate_interval]` and group by `instance` where a rule groups by
 * `environment, cluster, instance`. Two queries with the same shape compute the same
 * thing, so a panel whose query has a recording rule's shape should read the recorded
 * series instead. Ignored: matchers and grouping on the labels that say where a series
 * comes from, range durations, parentheses, and a `> 0` guard on a divisor (it only turns
 * 0/0 into no result).
 */
const WHERE_LABELS: ReadonlySet<string> = new Set([...INSTANCE_LABELS, 'job']);

/** Recorded series name -> its expression; a reference to one is read as its expression. */
export type Definitions = ReadonlyMap<string, string>;

const BINARY_OPERATORS = new Set([
  'Pow',
  'Mul',
  'Div',
  'Mod',
  'Add',
  'Sub',
  'Eql',
  'Gte',
  'Gtr',
  'Lte',
  'Lss',
  'Neq',
  'And',
  'Or',
  'Unless',
  'Atan2',
  'TrimUpper',
  'TrimLower',
]);

function unparen(node: SyntaxNode): SyntaxNode {
  let inner = node;
  while (inner.name === 'ParenExpr' && inner.firstChild) inner = inner.firstChild;
  return inner;
}

class Shaper {
  /** Every subexpression's shape, collected while shaping the whole. */
  readonly seen = new Set<string>();

  constructor(
    private readonly definitions: Definitions,
    private readonly expanding: ReadonlySet<string> = new Set(),
  ) {}

  shape(tree: PromqlTree, node: SyntaxNode): string {
    const shape = this.shapeOf(tree, node);
    this.seen.add(shape);
    return shape;
  }

  private shapeOf(tree: PromqlTree, node: SyntaxNode): string {
    const text = () => textOf(tree, node);
    const children = childrenOf(node);
    const args = (body: SyntaxNode | null) =>
      (body ? childrenOf(body) : []).map((a) => this.shape(tree, a)).join(', ');
    switch (node.name) {
      case 'PromQL':
      case 'ParenExpr':
        return children[0] ? this.shape(tree, children[0]) : '';
      case 'BinaryExpr':
        return this.binary(tree, children);
      case 'AggregateExpr': {
        const op = node.getChild('AggregateOp');
        const modifier = node.getChild('AggregateModifier');
        return `${op ? textOf(tree, op) : ''}${this.grouping(tree, modifier)}(${args(node.getChild('FunctionCallBody'))})`;
      }
      case 'FunctionCall': {
        const name = node.getChild('FunctionIdentifier');
        return `${name ? textOf(tree, name) : ''}(${args(node.getChild('FunctionCallBody'))})`;
      }
      case 'MatrixSelector': {
        const selector = node.getChild('VectorSelector');
        return `${selector ? this.shape(tree, selector) : ''}[range]`;
      }
      case 'VectorSelector':
        return this.selector(tree, node);
      case 'NumberDurationLiteral': {
        const n = Number(text());
        return Number.isNaN(n) ? text() : String(n);
      }
      default:
        return children.length === 0
          ? text().replace(/\s+/g, ' ')
          : `${node.name}(${children.map((c) => this.shape(tree, c)).join(', ')})`;
    }
  }

  private binary(tree: PromqlTree, children: SyntaxNode[]): string {
    const [left, ...rest] = children;
    const right = rest.pop();
    if (!left || !right) return '';
    const op = rest.find((c) => BINARY_OPERATORS.has(c.name));
    const modifiers = rest
      .filter((c) => c !== op)
      .map((c) => ` ${this.shape(tree, c)}`)
      .join('');
    let divisor = right;
    const guard = unparen(right);
    if (op?.name === 'Div' && guard.name === 'BinaryExpr') {
      const [guarded, ...middle] = childrenOf(guard);
      const zero = middle.pop();
      const isGuard =
        guarded &&
        middle.length === 1 &&
        middle[0]?.name === 'Gtr' &&
        zero?.name === 'NumberDurationLiteral' &&
        Number(textOf(tree, zero)) === 0;
      if (isGuard) divisor = guarded;
    }
    const opText = op ? textOf(tree, op).toLowerCase() : '?';
    return `(${this.shape(tree, left)} ${opText}${modifiers} ${this.shape(tree, divisor)})`;
  }

  private grouping(tree: PromqlTree, modifier: SyntaxNode | null): string {
    if (!modifier) return '';
    const by = modifier.getChild('By') !== null;
    const labels = (modifier.getChild('GroupingLabels')?.getChildren('LabelName') ?? [])
      .map((l) => textOf(tree, l))
      .filter((l) => !(by && WHERE_LABELS.has(l)))
      .sort();
    if (by && labels.length === 0) return '';
    return ` ${by ? 'by' : 'without'} (${labels.join(', ')})`;
  }

  private selector(tree: PromqlTree, node: SyntaxNode): string {
    const name = node.getChild('Identifier');
    const metric = name ? textOf(tree, name) : '';
    const list = node.getChild('LabelMatchers');
    const matchers = (list ? childrenOf(list) : [])
      .filter((m) => m.name === 'UnquotedLabelMatcher')
      .map((m) => textOf(tree, m).replace(/\s+/g, ''))
      .filter((m) => !WHERE_LABELS.has(m.slice(0, m.search(/[=!]/))))
      .sort();
    const definition = this.definitions.get(metric);
    if (definition !== undefined && matchers.length === 0 && !this.expanding.has(metric)) {
      const inner = new Shaper(this.definitions, new Set([...this.expanding, metric]));
      const tree = parsePromql(definition);
      return inner.shape(tree, tree.top);
    }
    return matchers.length === 0 ? metric : `${metric}{${matchers.join(', ')}}`;
  }
}

/** The shape of a whole expression, recorded series it reads expanded to their expressions. */
export function shapeOf(expr: string, definitions: Definitions = new Map()): string {
  const tree = parsePromql(expr);
  return new Shaper(definitions).shape(tree, tree.top);
}

/** The shapes of every subexpression of `expr`, itself included. */
export function subexpressionShapes(expr: string): ReadonlySet<string> {
  const tree = parsePromql(expr);
  const shaper = new Shaper(new Map());
  shaper.shape(tree, tree.top);
  return shaper.seen;
}
