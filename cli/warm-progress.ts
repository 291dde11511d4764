import { Writable } from 'node:stream';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { WarmingProgress } from '../client/warming/types.js';
import type { CliIo } from './program.js';
import { printable } from './terminal-text.js';

/**
 * How `redscope warm` shows a run while it goes: a bar redrawn in place on a
 * terminal (cli-progress), plain lines every few seconds elsewhere (a CI log,
 * a file), where a bar's escape sequences would be noise.
 */
export interface ProgressView {
  start(progress: WarmingProgress): void;
  update(progress: WarmingProgress): void;
  /** A log line (the client's warnings), shown without breaking the bar. */
  log(line: string): void;
  /** The last state is drawn; the view writes nothing after this. */
  stop(progress: WarmingProgress): void;
}

/** Keys dealt with: written, or skipped (already filled, gone), or given up on. */
export function handled(progress: WarmingProgress): number {
  return progress.warmed + progress.skipped + progress.failed;
}

function percent(progress: WarmingProgress): string {
  if (progress.planned === 0) return '100%';
  return `${Math.floor((100 * handled(progress)) / progress.planned)}%`;
}

function eta(progress: WarmingProgress): string {
  return progress.etaSeconds === undefined ? '?' : `${Math.ceil(progress.etaSeconds)} s`;
}

/** One progress line, the same wherever it is shown. */
export function progressLine(progress: WarmingProgress): string {
  const namespace = JSON.stringify(printable(progress.namespace));
  // Until the plan is read (and the live latency it backs off on is measured) there is nothing to count.
  if (progress.state === 'running' && progress.planned === 0)
    return `warming ${namespace}: starting`;
  const counts =
    `warming ${namespace}: ${handled(progress)}/${progress.planned} keys (${percent(progress)}), ` +
    `warmed ${progress.warmed}, skipped ${progress.skipped}, failed ${progress.failed}, errors ${progress.errors}`;
  if (progress.state !== 'running') return counts;
  return `${counts}; ${Math.round(progress.keysPerSecond)} keys/s (limit ${Math.round(progress.rateLimit)}), ETA ${eta(progress)}`;
}

/** A line that did not change is repeated after this long anyway: the run is alive, only stuck. */
const SAME_LINE_EVERY_MS = 10_000;

/**
 * Plain lines on `io.out`: the first at once, then one per `everyMs` when
 * something moved (at least every 10 s when nothing did), and the last on stop.
 */
export function plainProgress(io: CliIo, everyMs: number): ProgressView {
  let last = { at: 0, line: '' };
  const show = (progress: WarmingProgress) => {
    const line = progressLine(progress);
    last = { at: Date.now(), line };
    io.out(`${line}\n`);
  };
  return {
    start: show,
    update(progress) {
      const since = Date.now() - last.at;
      if (since < everyMs) return;
      if (progressLine(progress) !== last.line || since >= SAME_LINE_EVERY_MS) show(progress);
    },
    log: (text) => io.err(text.endsWith('\n') ? text : `${text}\n`),
    stop: show,
  };
}

/**
 * The terminal as cli-progress sees a stream: it writes, asks isTTY and
 * columns, and moves the cursor with readline's helpers (which only write).
 * Through `io.out`, so that tests read what a terminal would show.
 */
function terminalStream(io: CliIo, columns: number): NodeJS.WritableStream {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      io.out(String(chunk));
      done();
    },
  });
  return Object.assign(stream, { isTTY: true, columns });
}

/**
 * A bar on a terminal (cli-progress' MultiBar: the kind that can print log
 * lines above the bar), redrawn ten times a second, with the counts beside
 * it. The ETA shown is the warmer's, which knows the rate limit;
 * cli-progress' own would lag behind a back-off.
 */
export function terminalProgress(io: CliIo, columns = 100): ProgressView {
  const bars = new MultiBar(
    {
      stream: terminalStream(io, columns),
      format:
        '{namespace} [{bar}] {percentage}% | {value}/{total} keys | warmed {warmed} skipped {skipped} failed {failed} | {speed} keys/s | ETA {etaText}',
      hideCursor: true,
      barsize: 30,
      fps: 10,
      // Empty, not full, while the plan is still being read.
      emptyOnZero: true,
    },
    Presets.shades_classic,
  );
  let bar: SingleBar | undefined;
  const payload = (progress: WarmingProgress) => ({
    namespace: printable(progress.namespace),
    warmed: progress.warmed,
    skipped: progress.skipped,
    failed: progress.failed,
    speed: Math.round(progress.keysPerSecond),
    etaText: eta(progress),
  });
  return {
    start(progress) {
      bar = bars.create(progress.planned, handled(progress), payload(progress));
    },
    update(progress) {
      bar?.setTotal(progress.planned);
      bar?.update(handled(progress), payload(progress));
    },
    log: (text) => bars.log(text.endsWith('\n') ? text : `${text}\n`),
    stop(progress) {
      bar?.setTotal(progress.planned);
      bar?.update(handled(progress), payload(progress));
      // One last redraw flushes the log lines still buffered; stop() would drop them.
      bars.update();
      bars.stop();
    },
  };
}
