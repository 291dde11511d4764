/**
 * Reads from a Prometheus HTTP API (the local stack's, in the status line, the
 * end-to-end test and the alert-latency bench): one place that turns a
 * non-2xx answer or an error status into an error naming the request.
 */

/** An instant vector sample as /api/v1/query returns it. */
export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** `data` of `GET <prometheus><path>`, e.g. `/api/v1/alerts`; fails within `timeoutMs`. */
export async function promApi<T>(prometheus: string, path: string, timeoutMs = 5000): Promise<T> {
  const response = await fetch(`${prometheus}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await response.json().catch(() => ({}))) as {
    status?: string;
    data?: T;
    error?: string;
  };
  if (!response.ok || body.status !== 'success' || body.data === undefined) {
    throw new Error(
      `Prometheus ${prometheus}${path.split('?')[0]}: ${response.status} ${body.error ?? ''}`.trim(),
    );
  }
  return body.data;
}

/** The instant vector of `promql` now. */
export async function promQuery(prometheus: string, promql: string): Promise<PromSample[]> {
  const data = await promApi<{ result: PromSample[] }>(
    prometheus,
    `/api/v1/query?query=${encodeURIComponent(promql)}`,
  );
  return data.result;
}
