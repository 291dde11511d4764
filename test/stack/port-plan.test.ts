import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkPortsFree,
  describePorts,
  freePortsBase,
  PORTS_SPAN,
  PortsBusyError,
  planPorts,
} from '../../stack/port-plan.js';

describe('the ports of redscope up', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
  });

  it('--ports-base puts every port at a fixed offset inside PORTS_SPAN, each used once', async () => {
    const plan = await planPorts(6, true, 30_000);
    expect(plan).toMatchObject({ prometheus: 30_000, alertmanager: 30_001, exporter: 30_002 });
    const ports = describePorts(plan).map((p) => p.port);
    expect(new Set(ports).size).toBe(ports.length);
    expect(Math.max(...ports) - 30_000).toBeLessThan(PORTS_SPAN);
    expect(plan.clusterBus).toHaveLength(6);
    expect((await planPorts(6, false, 30_000)).clusterBus).toEqual([]);
  });

  it('without a base the services keep their well-known ports and Redis takes free ones', async () => {
    const plan = await planPorts(6, false);
    expect(plan).toMatchObject({
      prometheus: 9090,
      alertmanager: 9093,
      exporter: 9121,
      demo: 3000,
    });
    expect(plan.redis).toHaveLength(6);
    expect(plan.redis).not.toContain(9090);
  });

  it('names every busy port and what it was for, and passes a free plan', async () => {
    const base = await freePortsBase();
    const plan = await planPorts(6, false, base);
    await expect(checkPortsFree(plan)).resolves.toBeUndefined();
    for (const port of [base, base + 10]) {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      servers.push(server);
    }
    const error = await checkPortsFree(plan).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortsBusyError);
    expect((error as PortsBusyError).busy).toEqual([
      { what: 'Redis node 0', port: base + 10 },
      { what: 'Prometheus', port: base },
    ]);
    expect((error as Error).message).toContain(
      `port ${base + 10} (Redis node 0), port ${base} (Prometheus) are in use`,
    );
  });
});
