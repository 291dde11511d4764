/**
 * Every port `redscope up` listens on, decided and checked before anything
 * starts, so a busy port fails in a second with its name instead of as a
 * half-started stack with one dead process.
 */
import { createServer } from 'node:net';
import { freePorts } from './ports.js';

export interface PortPlan {
  readonly prometheus: number;
  readonly alertmanager: number;
  readonly exporter: number;
  readonly demo: number;
  /** The PagerDuty and Slack stand-in. */
  readonly receivers: number;
  /** The OTLP/HTTP trace receiver. */
  readonly traces: number;
  /** Data nodes, then Sentinels (Sentinel stack) or every cluster node. */
  readonly redis: readonly number[];
  /** Cluster bus ports, one per node (empty for the Sentinel stack). */
  readonly clusterBus: readonly number[];
}

/** The well-known ports when no base is given: what bookmarks and the docs use. */
const WELL_KNOWN = {
  prometheus: 9090,
  alertmanager: 9093,
  exporter: 9121,
  demo: 3000,
  receivers: 9095,
  traces: 4318,
} as const;

/** How many ports `--ports-base` reserves: services at base+0..5, Redis nodes from base+10. */
export const PORTS_SPAN = 30;

/**
 * With `base`, every port is base + a fixed offset (the Prometheus UI at base,
 * Redis nodes from base+10, cluster bus ports from base+20). Without it, the
 * services take their well-known ports and the Redis nodes free ones.
 */
export async function planPorts(
  redisNodes: number,
  cluster: boolean,
  base?: number,
): Promise<PortPlan> {
  const busCount = cluster ? redisNodes : 0;
  if (base !== undefined) {
    const offsets = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => base + from + i);
    return {
      prometheus: base,
      alertmanager: base + 1,
      exporter: base + 2,
      demo: base + 3,
      receivers: base + 4,
      traces: base + 5,
      redis: offsets(10, redisNodes),
      clusterBus: offsets(20, busCount),
    };
  }
  const free = await freePorts(redisNodes + busCount);
  const wellKnown = new Set<number>(Object.values(WELL_KNOWN));
  if (free.some((port) => wellKnown.has(port))) return planPorts(redisNodes, cluster, base);
  return { ...WELL_KNOWN, redis: free.slice(0, redisNodes), clusterBus: free.slice(redisNodes) };
}

/** Each port of the plan with what it is for, in start order. */
export function describePorts(plan: PortPlan): { what: string; port: number }[] {
  return [
    ...plan.redis.map((port, i) => ({ what: `Redis node ${i}`, port })),
    ...plan.clusterBus.map((port, i) => ({ what: `cluster bus of node ${i}`, port })),
    { what: 'alert receivers', port: plan.receivers },
    { what: 'trace receiver', port: plan.traces },
    { what: 'Alertmanager', port: plan.alertmanager },
    { what: 'exporter', port: plan.exporter },
    { what: 'demo app', port: plan.demo },
    { what: 'Prometheus', port: plan.prometheus },
  ];
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host: '127.0.0.1', port, exclusive: true }, () =>
      probe.close(() => resolve(true)),
    );
  });
}

/** Some ports of the plan are taken by another program. */
export class PortsBusyError extends Error {
  override readonly name = 'PortsBusyError';
  constructor(readonly busy: readonly { what: string; port: number }[]) {
    super(
      `cannot start: ${busy.map((b) => `port ${b.port} (${b.what})`).join(', ')} ` +
        `${busy.length === 1 ? 'is' : 'are'} in use. Stop what listens there ` +
        `(ss -ltnp 'sport = :${busy[0]?.port}') or move every port with --ports-base PORT ` +
        `(it uses PORT..PORT+${PORTS_SPAN - 1})`,
    );
  }
}

/** Throws PortsBusyError naming every port of the plan that is taken or out of range. */
export async function checkPortsFree(plan: PortPlan): Promise<void> {
  const wanted = describePorts(plan);
  const busy: { what: string; port: number }[] = [];
  for (const entry of wanted) {
    if (entry.port < 1 || entry.port > 65535 || !(await isFree(entry.port))) busy.push(entry);
  }
  if (busy.length > 0) throw new PortsBusyError(busy);
}

/**
 * A `--ports-base` whose whole range is free now, away from the kernel's
 * ephemeral ports: for tests and benches that run a stack beside others.
 */
export async function freePortsBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + PORTS_SPAN * Math.floor(Math.random() * 400);
    let free = true;
    for (let port = base; port < base + PORTS_SPAN && free; port++) free = await isFree(port);
    if (free) return base;
  }
  throw new Error('no free range of ports for --ports-base');
}
