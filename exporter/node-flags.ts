import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags every `redscope exporter` sets on itself as it starts (bin/redscope.js,
 * so also the Docker image), before it loads anything. Heap sizes are fixed when
 * the process starts, but these are read by V8 as it runs, so they work from
 * inside. docs/exporter-memory.md has the measurements (`npm run bench -- exporter`):
 * together ~56 MiB RSS after 650 scrapes instead of ~115 MiB.
 *
 * - `--semi-space-growth-factor=1`: the young generation stays at its initial
 *   1 MiB per semi-space (as --max-semi-space-size=1) instead of growing to
 *   16 MiB while modules load and again under scrape load.
 * - `--heap-growing-percent=30`: the old generation may grow to 1.3x the live
 *   heap before the next full collection, instead of up to 4x (V8's factor for
 *   a process allowed a multi-GiB heap), without capping it: a scrape that needs
 *   a big heap (key checks over many keys) still gets one, it is not killed.
 * - `--optimize-for-size`: collections compact more eagerly and leave less
 *   headroom.
 * - `--incremental-marking-hard-trigger=25`: the next full collection starts
 *   once a quarter of that headroom is used, not when it is nearly full.
 * - `--no-opt`, `--no-sparkplug`: no TurboFan and no baseline compiler, the
 *   interpreter runs everything. An exporter's code is not hot enough to pay
 *   for the compilers' machine code, their ~4 MiB of node's own code pages and
 *   their compile-time allocations: ~10 MiB less RSS than with both. The
 *   baseline compiler alone (`--sparkplug`) was measured too, with and without
 *   `--max-lazy`: ~0.25 ms less latency and CPU per scrape, but its peak under
 *   50 concurrent scrapes went over 64 MiB in three runs (64.3-68.1 MiB,
 *   against 61.1-62.8 without it).
 *
 * The price is CPU: ~3.3-3.7 ms per scrape against redis_exporter's ~2.5, and
 * a key-check pass over 100,000 exported keys takes ~3x as many scrapes. A
 * user's own flags win.
 * Node's command line or NODE_OPTIONS (which admits only a few V8 flags, e.g.
 * --max-old-space-size): a flag of a group below is not set when the user gave
 * any flag of that group. REDSCOPE_V8_FLAGS is set after these, so each of its
 * flags replaces the same one here (e.g. `--opt --sparkplug` buys speed with memory).
 */
export const EXPORTER_V8_FLAGS: readonly ExporterV8Flag[] = [
  { flag: '--semi-space-growth-factor=1', group: 'heap' },
  { flag: '--heap-growing-percent=30', group: 'heap' },
  { flag: '--optimize-for-size', group: 'heap' },
  { flag: '--incremental-marking-hard-trigger=25', group: 'heap' },
  { flag: '--no-opt', group: 'compiler' },
  { flag: '--no-sparkplug', group: 'compiler' },
];

/** Node flags that give both groups V8's own defaults back: the benchmark's comparison. */
export const V8_DEFAULT_FLAGS = ['--semi-space-growth-factor=2', '--opt', '--sparkplug'] as const;

export interface ExporterV8Flag {
  readonly flag: string;
  readonly group: 'heap' | 'compiler';
}

/** The node/V8 flags (spelled with - or _, `--no-` negates) that take a group over. */
const GROUP_FLAGS: Record<ExporterV8Flag['group'], readonly string[]> = {
  heap: [
    'max-semi-space-size',
    'min-semi-space-size',
    'semi-space-growth-factor',
    'max-old-space-size',
    'initial-old-space-size',
    'max-heap-size',
    'initial-heap-size',
    'heap-growing-percent',
    'optimize-for-size',
    'incremental-marking-hard-trigger',
    'incremental-marking-soft-trigger',
    'single-generation',
    'predictable-gc-schedule',
  ],
  compiler: [
    'opt',
    'turbofan',
    'maglev',
    'max-opt',
    'jitless',
    'lite-mode',
    'sparkplug',
    'always-turbofan',
    'always-sparkplug',
  ],
};

/** The flag's name: `--no_opt=1` -> `opt`. */
function flagName(arg: string): string {
  return arg.slice(2).split('=')[0]?.replace(/_/g, '-').replace(/^no-?/, '') as string;
}

/** Extra V8 flags, set after EXPORTER_V8_FLAGS (so the same flag given here wins). */
const V8_FLAGS_ENV = 'REDSCOPE_V8_FLAGS';

/**
 * The flags the exporter sets on itself: those of EXPORTER_V8_FLAGS not
 * overridden by `env.NODE_OPTIONS` or `execArgv` (flags given to node on its
 * command line), then REDSCOPE_V8_FLAGS.
 */
export function exporterV8Flags(
  env: Readonly<Record<string, string | undefined>>,
  execArgv: readonly string[],
): string[] {
  const given = new Set(
    [...(env.NODE_OPTIONS ?? '').split(/\s+/), ...execArgv]
      .filter((arg) => arg.startsWith('--'))
      .map(flagName),
  );
  const own = EXPORTER_V8_FLAGS.filter(
    ({ group }) => !GROUP_FLAGS[group].some((name) => given.has(name)),
  ).map(({ flag }) => flag);
  const extra = (env[V8_FLAGS_ENV] ?? '').split(/\s+/).filter((flag) => flag !== '');
  return [...own, ...extra];
}

let applied: readonly string[] = [];

/** Sets the exporter's V8 flags on this process, first thing; returns the flags it set. */
export function applyExporterV8Flags(
  env: Readonly<Record<string, string | undefined>> = process.env,
  execArgv: readonly string[] = process.execArgv,
): string[] {
  const flags = exporterV8Flags(env, execArgv);
  if (flags.length > 0) setFlagsFromString(flags.join(' '));
  applied = flags;
  return flags;
}

/** The flags applyExporterV8Flags set in this process (none when it did not run). */
export function appliedExporterV8Flags(): readonly string[] {
  return applied;
}
