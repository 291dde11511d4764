import express from 'express';
import type { DestinationStream } from 'pino';
import { createLogger, requestContextMiddleware, setRequestIdentity } from '../../client/index.js';

/**
 * An express app whose every log line carries the request's correlation id
 * (from `x-request-id`, else `traceparent`, else generated; echoed back as
 * `x-request-id`), and the user once it is known.
 */
export function createApp(destination?: DestinationStream): express.Express {
  const logger = createLogger({ name: 'example-app', level: 'debug', destination });
  const app = express();
  app.use(requestContextMiddleware({ logger }));
  app.get('/orders', (req, res) => {
    setRequestIdentity({
      userId: 'u-1',
      orgId: 'acme',
      sessionId: String(req.headers.authorization),
    });
    // `password` and `token` are censored wherever they appear in the object.
    logger.info({ orderCount: 3, payment: { token: 'tok_live_123' } }, 'listed orders');
    res.json({ orders: 3 });
  });
  return app;
}
