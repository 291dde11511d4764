import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as OTLP/HTTP JSON carries it (the fields we read). */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  /** OTLP enum: 1 internal, 2 server, 3 client. */
  readonly kind: number;
  readonly startTimeUnixNano?: string;
  readonly endTimeUnixNano?: string;
  readonly attributes: Record<string, unknown>;
  readonly serviceName: string | undefined;
}

interface KeyValue {
  key: string;
  value: Record<string, unknown>;
}

interface TracesRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: (Omit<ReceivedSpan, 'attributes' | 'serviceName'> & { attributes?: KeyValue[] })[];
    }[];
  }[];
}

function flatten(attributes: readonly KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) {
    const [raw] = Object.values(value);
    out[key] = typeof raw === 'string' && 'intValue' in value ? Number(raw) : raw;
  }
  return out;
}

/**
 * A local OTLP/HTTP trace receiver, as a collector, Jaeger or Tempo would
 * receive spans: `POST /v1/traces` with the JSON encoding (what
 * @opentelemetry/exporter-trace-otlp-http sends). It keeps the most recent
 * traces (`maxTraces`, oldest dropped first) and answers
 * `GET /api/traces/<traceId>` with their spans, so a trace id from an app's log
 * line can be looked up like in a tracing UI.
 */
export class OtlpReceiver {
  /** Every span received, in order (tests read it in-process; bounded like the traces). */
  readonly spans: ReceivedSpan[] = [];
  readonly contentTypes: string[] = [];
  private readonly traces = new Map<string, ReceivedSpan[]>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(options: { port?: number; maxTraces?: number } = {}): Promise<OtlpReceiver> {
    const maxTraces = options.maxTraces ?? 5000;
    let receiver: OtlpReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const self = receiver;
        if (!self) return void res.writeHead(503).end();
        const lookup = /^\/api\/traces\/([0-9a-f]{32})$/.exec(req.url ?? '');
        if (req.method === 'GET' && lookup?.[1]) {
          const spans = self.traces.get(lookup[1]);
          res.writeHead(spans ? 200 : 404, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify(spans ? { traceId: lookup[1], spans } : {}));
        }
        if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
        let body: TracesRequest;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TracesRequest;
        } catch {
          return void res.writeHead(400).end();
        }
        self.contentTypes.push(String(req.headers['content-type']));
        self.add(body, maxTraces);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${port}`);
    return receiver;
  }

  private add(body: TracesRequest, maxTraces: number): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const serviceName = flatten(resourceSpans.resource?.attributes)['service.name'] as
        | string
        | undefined;
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const raw of scope.spans ?? []) {
          const span: ReceivedSpan = { ...raw, attributes: flatten(raw.attributes), serviceName };
          this.spans.push(span);
          const trace = this.traces.get(span.traceId);
          if (trace) trace.push(span);
          else this.traces.set(span.traceId, [span]);
        }
      }
    }
    for (const traceId of this.traces.keys()) {
      if (this.traces.size <= maxTraces) break;
      this.traces.delete(traceId);
    }
    if (this.spans.length > maxTraces * 10)
      this.spans.splice(0, this.spans.length - maxTraces * 10);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
