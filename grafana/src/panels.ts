import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  PanelBuilder as GenericPanelBuilder,
  MappingType,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and query reads the dashboard's datasource variable (a lint rule checks it). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** Legend of a quantile: `0.95` -> `p95`. */
export const percentile = (quantile: string): string => `p${Math.round(Number(quantile) * 100)}`;

export interface Query {
  readonly expr: string;
  readonly legend: string;
}

export interface PanelSpec {
  readonly title: string;
  /** Shown as the panel's (i): what it shows and what a bad value means. */
  readonly description: string;
  /** A Grafana unit id: percentunit, s, bytes, ops, short, none, ... */
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Where the value turns red; pass the alert's threshold so panel and alert agree. */
  readonly redAbove?: number;
  /** For "lower is worse" values (hit rate, days left): red below this. */
  readonly redBelow?: number;
  readonly min?: number;
  readonly max?: number;
  /** Grid width out of 24 (default 8) and height (default 8). */
  readonly width?: number;
  readonly height?: number;
}

const refId = (index: number): string => String.fromCharCode(65 + index);

function targets(queries: readonly Query[]) {
  return queries.map((q, i) =>
    new DataqueryBuilder()
      .datasource(DATASOURCE)
      .expr(q.expr)
      .legendFormat(q.legend)
      .refId(refId(i)),
  );
}

function thresholds(spec: Pick<PanelSpec, 'redAbove' | 'redBelow'>): ThresholdsConfigBuilder {
  if (spec.redAbove !== undefined) {
    return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
      { value: null, color: 'green' },
      { value: spec.redAbove, color: 'red' },
    ]);
  }
  if (spec.redBelow !== undefined) {
    return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
      { value: null, color: 'red' },
      { value: spec.redBelow, color: 'green' },
    ]);
  }
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: 'green' }]);
}

export function timeSeries(spec: PanelSpec): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 8)
    .height(spec.height ?? 8)
    .targets(targets(spec.queries))
    .thresholds(thresholds(spec))
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .fillOpacity(10);
  if (spec.redAbove !== undefined || spec.redBelow !== undefined) {
    panel.thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line),
    );
  }
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  return panel;
}

export interface StatSpec extends PanelSpec {
  /** Shows these values as coloured words instead of numbers (a state coded as a number). */
  readonly texts?: readonly ValueText[];
}

export function singleStat(spec: StatSpec): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 4)
    .height(spec.height ?? 4)
    .targets(targets(spec.queries))
    .thresholds(thresholds(spec))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
  if (spec.texts !== undefined) panel.mappings(valueMappings(spec.texts));
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  return panel;
}

/** A number a panel shows as a word in a colour: a state coded as a number in PromQL. */
export interface ValueText {
  readonly value: number;
  readonly text: string;
  /** A Grafana colour name: green, blue, orange, red... */
  readonly color: string;
}

function valueMappings(values: readonly ValueText[]): ValueMapping[] {
  const options = Object.fromEntries(
    values.map((v, index) => [String(v.value), { text: v.text, color: v.color, index }]),
  );
  return [{ type: MappingType.ValueToText, options }];
}

/** One value column of a table: an instant query whose labels say which row it fills. */
export interface TableColumn {
  readonly header: string;
  readonly expr: string;
  /** Default: the panel's unit. */
  readonly unit?: string;
  /** Colours the value red from this value up. */
  readonly redAbove?: number;
  /** Shows these values as coloured words instead of numbers. */
  readonly texts?: readonly ValueText[];
}

export interface TableSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  /** The labels that identify a row (every column's query keeps exactly these), with their headers. */
  readonly labels: readonly { readonly label: string; readonly header: string }[];
  /** Needs at least two: Grafana names a lone query's value "Value", not "Value #A". */
  readonly columns: readonly TableColumn[];
  /** Header of the column the table sorts on, descending. */
  readonly sortBy: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * A table of instant values, one row per label set: each column is its own query, and
 * Grafana's merge transformation joins them on their labels (what a PromQL `group_left` of
 * four metrics would do, without the query that no one could read).
 */
export function valueTable(spec: TableSpec): table.PanelBuilder {
  const values = spec.columns.map((_, i) => `Value #${refId(i)}`);
  const order = [...spec.labels.map((l) => l.label), ...values];
  const headers = [...spec.labels.map((l) => l.header), ...spec.columns.map((c) => c.header)];
  const panel = new table.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .targets(
      spec.columns.map((c, i) =>
        new DataqueryBuilder()
          .datasource(DATASOURCE)
          .expr(c.expr)
          .instant()
          .format(PromQueryFormat.Table)
          .refId(refId(i)),
      ),
    )
    .thresholds(thresholds({}))
    .transformations([
      { id: 'merge', options: {} },
      {
        id: 'organize',
        options: {
          excludeByName: { Time: true },
          indexByName: Object.fromEntries(order.map((name, i) => [name, i])),
          renameByName: Object.fromEntries(order.map((name, i) => [name, headers[i]])),
        },
      },
    ])
    .sortBy([new common.TableSortByFieldStateBuilder().displayName(spec.sortBy).desc(true)]);
  for (const column of spec.columns) {
    const coloured = column.redAbove !== undefined || column.texts !== undefined;
    const properties = [
      ...(column.unit ? [{ id: 'unit', value: column.unit }] : []),
      ...(column.redAbove === undefined
        ? []
        : [{ id: 'thresholds', value: thresholds({ redAbove: column.redAbove }).build() }]),
      ...(column.texts === undefined
        ? []
        : [{ id: 'mappings', value: valueMappings(column.texts) }]),
      ...(coloured
        ? [{ id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorText } }]
        : []),
    ];
    if (properties.length > 0) panel.overrideByName(column.header, properties);
  }
  return panel;
}

export interface StateTimelineSpec {
  readonly title: string;
  readonly description: string;
  /** One query per row set; each series is one row of the timeline, its value a state code. */
  readonly queries: readonly Query[];
  /** The state codes the queries return, as words in colours. */
  readonly states: readonly ValueText[];
  readonly width?: number;
  readonly height?: number;
}

/** A state timeline: one row per series, coloured by the word its value maps to. */
export function stateTimeline(spec: StateTimelineSpec): statetimeline.PanelBuilder {
  return new statetimeline.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit('none')
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .targets(targets(spec.queries))
    .mappings(valueMappings(spec.states))
    .thresholds(thresholds({}))
    .showValue(common.VisibilityMode.Never)
    .mergeValues(true)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    );
}

export function row(title: string): RowBuilder {
  return new RowBuilder(title);
}

/**
 * Grafana's alert list panel (the SDK has no typed builder for it): firing and pending
 * alerts of the Prometheus datasource, filtered to the selected environment.
 */
export function alertList(title: string, description: string, labelFilter: string) {
  return new GenericPanelBuilder()
    .type('alertlist')
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(24)
    .height(6)
    .options({
      viewMode: 'list',
      groupMode: 'default',
      groupBy: [],
      maxItems: 20,
      sortOrder: 1,
      dashboardAlerts: false,
      alertName: '',
      alertInstanceLabelFilter: labelFilter,
      stateFilter: {
        firing: true,
        pending: true,
        noData: false,
        normal: false,
        error: true,
      },
    });
}
