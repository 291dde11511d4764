import { readFileSync } from 'node:fs';
import {
  createSentinelEventsCollector,
  SentinelEventTracker,
  SentinelEventWatch,
} from '../../../exporter/collectors/sentinel-events.js';
import type { CollectContext } from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import type { RedisTopology } from '../../../stack/topology.js';

/** The exporter's Sentinel event tracking, subscribed to every Sentinel of `topology`. */
export async function watchSentinelEvents(
  topology: RedisTopology,
): Promise<{ tracker: SentinelEventTracker; watch: SentinelEventWatch }> {
  const description = topology.describe();
  const tls = description.tls
    ? {
        ca: readFileSync(description.tls.caFile),
        cert: readFileSync(description.tls.certFile),
        key: readFileSync(description.tls.keyFile),
      }
    : undefined;
  const tracker = new SentinelEventTracker();
  const watch = new SentinelEventWatch({
    tracker,
    // Sentinels have no ACL users: no credentials.
    sentinels: topology.names('sentinel').map((name) => ({
      host: description.host,
      port: topology.port(name),
      ...(tls ? { tls } : {}),
    })),
  });
  await watch.ready();
  return { tracker, watch };
}

/** What the events collector exports on a scrape of `sentinel`, as exposition text. */
export async function scrapeSentinelEvents(
  topology: RedisTopology,
  tracker: SentinelEventTracker,
  sentinel: string,
): Promise<string> {
  const client = topology.connect(topology.port(sentinel));
  try {
    const info = parseInfo(await client.info());
    const sink = new MetricSink();
    const context = { info: () => info } as unknown as CollectContext;
    await createSentinelEventsCollector(tracker).collect(context, sink);
    return sink.render();
  } finally {
    client.disconnect();
  }
}
