import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a loopback receiver got, body parsed as JSON. */
export interface Received {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
  /** When it arrived, ms since the epoch: fault-to-page timing reads it. */
  readonly receivedAt: number;
}

/**
 * A local stand-in for PagerDuty and Slack that speaks their wire formats: PagerDuty
 * Events v2 (`POST /v2/enqueue`, answers 202 with a dedup key) and a Slack incoming
 * webhook (`POST /slack/...`, answers 200 "ok"). Binds 127.0.0.1 (on a free port unless
 * given one). The tests and `redscope up` point a copy of the real alertmanager.yml at it.
 * `GET /received` lists what arrived, for a process that did not start the receivers.
 */
export class LoopbackReceivers {
  readonly pagerduty: Received[] = [];
  readonly slack: Received[] = [];
  readonly unexpected: Received[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  /** `onReceive` sees every notification as it arrives (the local stack prints them). */
  static async start(
    onReceive?: (kind: 'pagerduty' | 'slack', entry: Received) => void,
    port = 0,
  ): Promise<LoopbackReceivers> {
    let receivers: LoopbackReceivers | undefined;
    const server = createServer((req, res) => {
      readBody(req).then(
        (raw) => {
          let body: unknown = raw;
          try {
            body = JSON.parse(raw);
          } catch {
            // kept as text: a test asserting JSON then fails with the raw body visible
          }
          const entry: Received = {
            path: req.url ?? '',
            contentType: req.headers['content-type'],
            body,
            receivedAt: Date.now(),
          };
          if (req.method === 'GET' && req.url === '/received' && receivers) {
            const { pagerduty, slack } = receivers;
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ pagerduty, slack }));
          } else if (req.method === 'POST' && req.url === '/v2/enqueue') {
            receivers?.pagerduty.push(entry);
            onReceive?.('pagerduty', entry);
            const dedup = (body as { dedup_key?: string }).dedup_key ?? 'generated';
            res.writeHead(202, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: dedup }),
            );
          } else if (req.method === 'POST' && req.url?.startsWith('/slack/')) {
            receivers?.slack.push(entry);
            onReceive?.('slack', entry);
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('ok');
          } else {
            receivers?.unexpected.push(entry);
            res.writeHead(404);
            res.end();
          }
        },
        () => {
          res.writeHead(400);
          res.end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    receivers = new LoopbackReceivers(server, `http://127.0.0.1:${bound}`);
    return receivers;
  }

  get pagerdutyUrl(): string {
    return `${this.baseUrl}/v2/enqueue`;
  }

  get slackUrl(): string {
    return `${this.baseUrl}/slack/T000/B000/loopback`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
