/**
 * Failovers as Sentinel announces them on its pub/sub: how many per master and
 * how long the last one took. Scrapes only see the state after the fact (a
 * changed master address); the events say when the master went down and when
 * the new one was named. Three parts:
 *
 * - `SentinelEventTracker`: the state machine, fed event by event (unit-tested);
 * - `SentinelEventWatch`: a subscription to each Sentinel, with reconnect;
 * - `createSentinelEventsCollector`: the families, filled on scrape.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { exponentialBackoff } from '../../client/common/backoff.js';
import {
  parseInstanceEvent,
  parseSwitchMaster,
  type SentinelAddress,
} from '../../client/common/sentinel-messages.js';
import { family } from '../exposition.js';
import { parseKeyValueList } from '../info-parser.js';
import { type Collector, INFO_ALL } from './types.js';

export const failoversTotal = family({
  name: 'redscope_sentinel_failovers_total',
  type: 'counter',
  help: 'Failovers of the master seen on the Sentinels pub/sub (+switch-master) since the exporter started',
  labels: ['master_name'],
  source: 'Sentinel pub/sub: +switch-master, one per new master address',
});

export const lastFailoverDuration = family({
  name: 'redscope_sentinel_last_failover_duration_seconds',
  type: 'gauge',
  help: 'Seconds from the first +sdown/+odown of the master to +switch-master, for the last failover',
  labels: ['master_name'],
  source: 'Sentinel pub/sub: arrival times of +sdown/+odown (master) and +switch-master',
});

/** What the tracker knows about one master group. */
export interface MasterFailoverState {
  readonly failovers: number;
  /** Undefined until a failover was seen whole. */
  readonly lastDurationSeconds?: number;
  /** `ip:port` of the master as the last +switch-master named it. */
  readonly master?: string;
  /** Arrival time (ms since epoch) of the last +switch-master. */
  readonly lastSwitchAtMs?: number;
  readonly failoverInProgress: boolean;
}

interface MutableState {
  failovers: number;
  lastDurationSeconds?: number;
  master?: string;
  lastSwitchAtMs?: number;
  failoverInProgress: boolean;
  downSinceMs?: number;
}

/** Events that mean a failover of the master is under way. */
const FAILOVER_STEPS =
  /^\+(try-failover|elected-leader|failover-state-.+|selected-slave|promoted-slave)$/;

/** `ip:port`, the form `MasterFailoverState.master` takes. */
const addressText = (address: SentinelAddress): string => `${address.host}:${address.port}`;

/**
 * Folds Sentinel events into per-master failover counts and durations. Several
 * Sentinels announce the same failover: a +switch-master counts once per new
 * master address, and the start is the first +sdown/+odown any of them sent.
 */
export class SentinelEventTracker {
  private readonly masters = new Map<string, MutableState>();
  private watches = 0;

  /** Whether a SentinelEventWatch feeds this tracker; without one it knows nothing. */
  get watched(): boolean {
    return this.watches > 0;
  }

  /** Called by SentinelEventWatch; returns the function that detaches it. */
  attach(): () => void {
    this.watches += 1;
    let attached = true;
    return () => {
      if (attached) this.watches -= 1;
      attached = false;
    };
  }

  /** Feeds one pub/sub message (`channel` is the event, e.g. `+odown`). */
  handle(channel: string, message: string, atMs: number): void {
    if (channel === '+switch-master') {
      const move = parseSwitchMaster(message);
      if (move) this.switchMaster(move.name, addressText(move.to), atMs);
      return;
    }
    const event = parseInstanceEvent(message);
    if (!event) return;
    const isMaster = event.type === 'master';
    const state = this.stateOf(event.masterName);
    if (isMaster && (channel === '+sdown' || channel === '+odown')) {
      // A late event about the previous master (another Sentinel had already switched) is not a new outage.
      const address = event.address && addressText(event.address);
      if (state.master !== undefined && state.master !== address) return;
      state.downSinceMs ??= atMs;
    } else if (isMaster && (channel === '-sdown' || channel === '-odown')) {
      // Back before any failover started: a blip (a short pause), not an outage.
      if (!state.failoverInProgress) state.downSinceMs = undefined;
    } else if (isMaster && FAILOVER_STEPS.test(channel)) {
      state.failoverInProgress = true;
      state.downSinceMs ??= atMs;
    } else if (channel.startsWith('+failover-end') || channel.startsWith('-failover-abort')) {
      // An aborted attempt keeps its start: the retry's duration counts from the outage.
      state.failoverInProgress = false;
    }
  }

  private switchMaster(name: string, address: string, atMs: number): void {
    const state = this.stateOf(name);
    if (state.master === address) return;
    state.failovers += 1;
    state.lastDurationSeconds = (atMs - (state.downSinceMs ?? atMs)) / 1000;
    state.master = address;
    state.lastSwitchAtMs = atMs;
    state.downSinceMs = undefined;
  }

  private stateOf(name: string): MutableState {
    let state = this.masters.get(name);
    if (!state) {
      state = { failovers: 0, failoverInProgress: false };
      this.masters.set(name, state);
    }
    return state;
  }

  /** The state of one master group, or undefined when no event named it. */
  get(masterName: string): MasterFailoverState | undefined {
    const state = this.masters.get(masterName);
    return state ? { ...state } : undefined;
  }

  names(): string[] {
    return [...this.masters.keys()];
  }
}

/** How to reach one Sentinel: ioredis options with host, port, TLS and credentials. */
export type SentinelConnectOptions = RedisOptions & { host: string; port: number };

export interface SentinelEventWatchOptions {
  readonly sentinels: readonly SentinelConnectOptions[];
  readonly tracker: SentinelEventTracker;
  /** Reconnect delay cap (ms); doubles from 100 ms. Default 2000. */
  readonly maxReconnectDelayMs?: number;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
}

/**
 * Subscribes to every event (PSUBSCRIBE *) on each Sentinel and feeds the
 * tracker. A Sentinel that is down is retried forever with backoff, and
 * ioredis resubscribes after each reconnect; errors never leave this object
 * (they would only repeat what the Sentinel collector already reports).
 */
export class SentinelEventWatch {
  private readonly subscribers: Redis[];
  private readonly subscribed: Promise<unknown>[];
  private readonly detach: () => void;

  constructor(options: SentinelEventWatchOptions) {
    this.detach = options.tracker.attach();
    const backoff = exponentialBackoff(100, options.maxReconnectDelayMs ?? 2000);
    const now = options.now ?? Date.now;
    this.subscribers = options.sentinels.map(
      (sentinel) =>
        new Redis({
          // Both address families, as every other connection (a Sentinel name may be AAAA only).
          family: 0,
          ...sentinel,
          retryStrategy: backoff,
          maxRetriesPerRequest: null,
          enableReadyCheck: false,
          // CLIENT SETINFO is 7.2+: a 7.0 Sentinel would count an error per (re)connect.
          disableClientInfo: true,
          connectionName: 'redscope-exporter-events',
        }),
    );
    this.subscribed = this.subscribers.map((subscriber) => {
      subscriber.on('error', () => undefined);
      subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
        options.tracker.handle(channel, message, now());
      });
      return subscriber.psubscribe('*').catch(() => undefined);
    });
  }

  /** Resolves once every Sentinel that is up has confirmed the subscription. */
  async ready(): Promise<void> {
    await Promise.all(this.subscribed);
  }

  close(): void {
    this.detach();
    for (const subscriber of this.subscribers) subscriber.disconnect();
  }
}

/**
 * The collector: on a scrape of a Sentinel, the failover count and last
 * duration of each master that Sentinel monitors (from its INFO), as the
 * tracker has them. Counts start at 0 for a master with no failover yet;
 * nothing is exported while no SentinelEventWatch feeds the tracker.
 *
 * ```ts
 * const tracker = new SentinelEventTracker();
 * const watch = new SentinelEventWatch({ sentinels: [{ host, port, tls }], tracker });
 * const collectors = createCollectors({ sentinelEvents: tracker }); // lists this collector
 * ```
 */
export function createSentinelEventsCollector(tracker: SentinelEventTracker): Collector {
  return {
    name: 'sentinel_events',
    modes: ['sentinel'],
    commands: [INFO_ALL],
    families: [failoversTotal, lastFailoverDuration],
    collect(context, sink) {
      // No watch, no events: a count of 0 would claim "no failover" without having looked.
      if (!tracker.watched) return;
      const names = new Set<string>();
      const section = context.info().sections.get('sentinel');
      for (const [key, value] of section ?? []) {
        if (!/^master\d+$/.test(key)) continue;
        const name = parseKeyValueList(value).get('name');
        if (name) names.add(name);
      }
      for (const name of names) {
        const state = tracker.get(name);
        sink.add(failoversTotal, state?.failovers ?? 0, name);
        if (state?.lastDurationSeconds !== undefined) {
          sink.add(lastFailoverDuration, state.lastDurationSeconds, name);
        }
      }
    },
  };
}
