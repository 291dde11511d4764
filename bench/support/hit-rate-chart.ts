import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One second of one variant of the warming benchmark. */
export interface ChartSecond {
  readonly variant: string;
  /** End of the second, since the cold start. */
  readonly second: number;
  readonly hitRate: number | undefined;
  /** Single-session loads of live misses in that second. */
  readonly liveLoads: number;
  /** Sessions the warmer loaded in that second (in batches). */
  readonly warmedRows: number;
}

export interface HitRateChart {
  readonly seconds: readonly ChartSecond[];
  /** Where one variant's warming run began and ended, s since the cold start. */
  readonly warming:
    | { readonly label: string; readonly from: number; readonly to: number }
    | undefined;
  readonly goal: { readonly hitRate: number; readonly withinSeconds: number };
}

/**
 * The hit rate over time of each variant, over the loads they put on the
 * source of truth, as an SVG (Vega-Lite compiled to Vega and rendered
 * headless: no canvas, no browser).
 */
export async function renderHitRateChart(chart: HitRateChart): Promise<string> {
  const hitRows = chart.seconds
    .filter((s) => s.hitRate !== undefined)
    .map((s) => ({ variant: s.variant, second: s.second, hitRate: s.hitRate }));
  const loadRows = chart.seconds.flatMap((s) => [
    { series: `${s.variant}: live misses`, second: s.second, rows: s.liveLoads },
    ...(s.warmedRows > 0 || chart.warming !== undefined
      ? [{ series: `${s.variant}: warmer`, second: s.second, rows: s.warmedRows }]
      : []),
  ]);
  // Only the series that ever load something (the variant without warming has no warmer).
  const loading = new Set(loadRows.filter((r) => r.rows > 0).map((r) => r.series));
  // One hue per variant in both panels, the first variant's red: the warmer's rows a lighter shade.
  const variants = [...new Set(chart.seconds.map((s) => s.variant))];
  const hues = [
    ['#c0392b', '#e6a49c'],
    ['#1f5fa6', '#8fb7e3'],
    ['#2e8b57', '#9fd4b5'],
  ];
  const hue = (i: number, shade: 0 | 1) => hues[i % hues.length]?.[shade] as string;
  // From the third variant on, dashed: variants that warm alike draw over each other.
  const dash = (i: number) => (i >= 2 ? [6, 3] : [1, 0]);
  const series = variants.flatMap((variant, i) => [
    { name: `${variant}: live misses`, color: hue(i, 0), dash: dash(i) },
    { name: `${variant}: warmer`, color: hue(i, 1), dash: dash(i) },
  ]);
  const shown = series.filter((s) => loading.has(s.name));
  const x = {
    field: 'second',
    type: 'quantitative' as const,
    title: 'seconds since the cold start',
    scale: { domain: [0, Math.max(...chart.seconds.map((s) => s.second))], nice: false },
  };
  const warmingBand =
    chart.warming === undefined
      ? []
      : [
          {
            data: { values: [{ from: chart.warming.from, to: chart.warming.to }] },
            mark: { type: 'rect', color: '#f0c75e', opacity: 0.25 },
            encoding: {
              x: { field: 'from', type: 'quantitative' },
              x2: { field: 'to' },
            },
          } as const,
        ];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 8,
    // Each panel its own colours and legend: variants above, load series below.
    resolve: {
      scale: { color: 'independent', strokeDash: 'independent' },
      legend: { color: 'independent', strokeDash: 'independent' },
    },
    vconcat: [
      {
        width: 640,
        height: 280,
        title: {
          text: 'Session cache hit rate after a cold start',
          subtitle: `${chart.warming === undefined ? '' : `shaded: the warming run (${chart.warming.label}); `}dashed: the goal (${chart.goal.hitRate * 100}% within ${chart.goal.withinSeconds} s)`,
        },
        layer: [
          ...warmingBand,
          {
            data: { values: hitRows },
            mark: { type: 'line', interpolate: 'monotone', strokeWidth: 2 },
            encoding: {
              x,
              y: {
                field: 'hitRate',
                type: 'quantitative',
                title: 'hit rate (each second)',
                scale: { domain: [0, 1] },
                axis: { format: '.0%' },
              },
              color: {
                field: 'variant',
                type: 'nominal',
                title: null,
                scale: { domain: variants, range: variants.map((_, i) => hue(i, 0)) },
                legend: { orient: 'bottom-right', labelLimit: 400 },
              },
              strokeDash: {
                field: 'variant',
                type: 'nominal',
                scale: { domain: variants, range: variants.map((_, i) => dash(i)) },
              },
            },
          },
          {
            data: { values: [{ hitRate: chart.goal.hitRate }] },
            mark: { type: 'rule', strokeDash: [4, 4], color: '#666' },
            encoding: { y: { field: 'hitRate', type: 'quantitative' } },
          },
          {
            data: { values: [{ second: chart.goal.withinSeconds }] },
            mark: { type: 'rule', strokeDash: [4, 4], color: '#666' },
            encoding: { x: { field: 'second', type: 'quantitative' } },
          },
        ],
      },
      {
        width: 640,
        height: 160,
        title: 'Loads on the source of truth (sessions per second)',
        data: { values: loadRows.filter((r) => loading.has(r.series)) },
        mark: { type: 'line', interpolate: 'step-before', strokeWidth: 1.5 },
        encoding: {
          x,
          y: { field: 'rows', type: 'quantitative', title: 'sessions loaded / s' },
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            scale: { domain: shown.map((s) => s.name), range: shown.map((s) => s.color) },
            legend: { orient: 'top-right', labelLimit: 400 },
          },
          strokeDash: {
            field: 'series',
            type: 'nominal',
            scale: { domain: shown.map((s) => s.name), range: shown.map((s) => s.dash) },
          },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
