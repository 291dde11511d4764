/**
 * V8 flags the exporter runs with in compose.yaml and `redscope up`: a 1 MiB
 * young generation and a 32 MiB old generation. The exporter's live heap is a
 * few MiB, and without a cap V8 grows the heap under scrape load to ~60 MB of
 * garbage before collecting; BENCHMARKS.md has the memory and latency cost.
 */
export const EXPORTER_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=32'] as const;
