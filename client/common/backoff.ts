/**
 * Exponential backoff from `minMs`, doubling per attempt, capped at `maxMs`.
 * The one formula for every reconnect and retry in redscope (client
 * connections, Sentinel subscribers, exporter targets). Attempt 1 waits `minMs`.
 */
export function exponentialBackoff(minMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
}
