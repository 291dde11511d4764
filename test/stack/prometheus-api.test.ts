import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promApi, promQuery } from '../../stack/prometheus-api.js';

// A stand-in for Prometheus' HTTP API: the answers its /api/v1 endpoints give.
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x');
    const query = path.searchParams.get('query');
    res.setHeader('content-type', 'application/json');
    if (path.pathname === '/api/v1/query' && query === 'up') {
      res.end(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ metric: { job: 'redis' }, value: [1, '1'] }] },
        }),
      );
    } else if (path.pathname === '/api/v1/query') {
      res.writeHead(400).end(
        JSON.stringify({
          status: 'error',
          errorType: 'bad_data',
          error: 'parse error at char 3',
        }),
      );
    } else {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('the Prometheus API reader', () => {
  it('returns the instant vector of a query', async () => {
    expect(await promQuery(url, 'up')).toEqual([{ metric: { job: 'redis' }, value: [1, '1'] }]);
  });

  it("names the endpoint and Prometheus' reason for a bad query, without the query string", async () => {
    await expect(promQuery(url, 'up{')).rejects.toThrow(
      `Prometheus ${url}/api/v1/query: 400 parse error at char 3`,
    );
  });

  it('names the endpoint for an answer that is not the API at all', async () => {
    await expect(promApi(url, '/api/v1/alerts')).rejects.toThrow(
      `Prometheus ${url}/api/v1/alerts: 404`,
    );
  });

  it('fails fast on a Prometheus that does not answer', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const started = performance.now();
    await expect(promApi(`http://127.0.0.1:${port}`, '/api/v1/alerts', 300)).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2000);
    silent.closeAllConnections();
    silent.close();
  });
});
