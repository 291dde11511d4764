import { parseInstanceEvent, parseSwitchMaster } from '../common/sentinel-messages.js';
import type { Address } from './config.js';

/** Why the fence refuses to confirm a durable write now. */
export type FenceState =
  /** No failover in sight, and a majority of the Sentinels is heard. */
  | 'open'
  /** A failover of the master may have begun, and has not resolved. */
  | 'failover'
  /** Fewer than a majority of the Sentinels is heard: a failover could begin unseen. */
  | 'deaf';

/**
 * Sentinel events that mean a failover of the master is under way. Some are
 * about the replica being promoted (`+promoted-slave` is of type `slave`): all
 * are matched on the master they belong to.
 */
const FAILOVER_STEPS =
  /^\+(try-failover|elected-leader|selected-slave|promoted-slave|failover-state-.+)$/;

/** What one Sentinel has told the client about the master, as of its last event or resync. */
export interface SentinelView {
  sdown: boolean;
  odown: boolean;
  failover: boolean;
}

const sameAddress = (a: Address | undefined, b: Address | undefined) =>
  a !== undefined && b !== undefined && a.host === b.host && a.port === b.port;

/**
 * What the client knows of failovers of its master, from the Sentinels it
 * subscribes to. A Sentinel failover begins with the Sentinels agreeing the
 * master is down, well before a replica is promoted; a durable write whose
 * acknowledgement races that moment may be acknowledged by a replica that is
 * about to resync from the new master and drop it. So the fence closes at the
 * first sign (a quorum's `+sdown`, any Sentinel's `+odown` or failover step,
 * `+switch-master` to a master the writer is not on) and opens again only when
 * the failover resolved: the writer is on the announced master, and no
 * Sentinel still reports the master down or a failover running. It is also
 * closed while fewer than a majority of the Sentinels is heard: a majority on
 * the other side of a partition can fail over unseen. Each Sentinel's view is
 * kept apart (one Sentinel's `-odown` does not clear another's `+odown`) and
 * replaced by a fresh one when its subscription comes back (`resync`), so
 * events missed while it was unheard neither keep the fence closed forever
 * nor leave it open wrongly. `epoch` counts closings, so a write that started
 * before one and was acknowledged after it is refused too. A manual failover
 * (`SENTINEL FAILOVER`) gives no warning before `+switch-master`; writes
 * acknowledged before that are as safe as the replicas that acknowledged them.
 */
export class FailoverFence {
  /** Incremented each time the fence closes. */
  epoch = 0;
  /** Whether any Sentinel was ever heard: before that, the client is still starting. */
  everHeard = false;
  /** Called with the new state at every change (the factory logs it). */
  onChange: (state: FenceState) => void = () => undefined;
  private readonly views = new Map<string, SentinelView>();
  private readonly listening = new Set<string>();
  /** The master the Sentinels announced, until the writer is on it. */
  private awaiting: Address | undefined;
  /** The master the writer is connected to. */
  private writerAt: Address | undefined;
  /** The master as the Sentinels last named it; events about another are stale. */
  private current: Address | undefined;
  private closedSince: number | undefined;
  private closedBefore = 0;
  private readonly waiters = new Set<(heard: boolean) => void>();

  constructor(
    private readonly masterName: string,
    /** Sentinels that make a majority of those configured: needed heard, and their `+sdown` closes. */
    private readonly majority: number,
  ) {}

  /** A message on Sentinel `sentinel`'s pub/sub channel `channel`. */
  handle(sentinel: string, channel: string, message: string): void {
    const before = this.state();
    if (channel === '+switch-master') {
      const switched = parseSwitchMaster(message);
      if (switched?.name !== this.masterName) return;
      // Every Sentinel announces the same switch, the others up to seconds later: news once.
      if (sameAddress(switched.to, this.current)) return;
      this.current = switched.to;
      if (!sameAddress(switched.to, this.writerAt)) this.awaiting = switched.to;
      // Every flag so far was about the old master.
      this.views.clear();
    } else {
      const event = parseInstanceEvent(message);
      if (event === undefined || event.masterName !== this.masterName) return;
      // A late event about a master that is no longer the master (a slow Sentinel) is history.
      if (this.current !== undefined && !sameAddress(event.masterAddress, this.current)) return;
      const view = this.viewOf(sentinel);
      if (FAILOVER_STEPS.test(channel)) view.failover = true;
      else if (channel.startsWith('+failover-end') || channel.startsWith('-failover-abort')) {
        view.failover = false;
      } else if (event.type !== 'master') return;
      else if (channel === '+sdown') view.sdown = true;
      else if (channel === '-sdown') view.sdown = false;
      else if (channel === '+odown') view.odown = true;
      else if (channel === '-odown') view.odown = false;
      else return;
    }
    this.changed(before);
  }

  /**
   * What Sentinel `sentinel` says now (`SENTINEL MASTER`), asked when its
   * subscription comes up: replaces what it said before, and names the master.
   */
  resync(sentinel: string, view: SentinelView, master: Address): void {
    const before = this.state();
    this.views.set(sentinel, { ...view });
    this.current ??= master;
    // Before the writer's first connection nothing was confirmed: ioredis connects to whatever the Sentinels name.
    if (this.writerAt !== undefined && !sameAddress(master, this.writerAt)) this.awaiting = master;
    this.changed(before);
  }

  /** The writer is connected to `address` (at every ready): a failover the Sentinels announced has reached it. */
  writerOn(address: Address): void {
    const before = this.state();
    this.writerAt = address;
    this.current ??= address;
    if (sameAddress(this.awaiting, address)) this.awaiting = undefined;
    this.changed(before);
  }

  /** Whether the subscription to Sentinel `sentinel` is up (subscribed and resynced). */
  hearing(sentinel: string, up: boolean): void {
    const before = this.state();
    if (up) {
      this.listening.add(sentinel);
      this.everHeard = true;
    } else {
      this.listening.delete(sentinel);
      // What it said while heard may be stale by the time it is heard again.
      this.views.delete(sentinel);
    }
    if (this.listening.size >= this.majority) for (const waiter of [...this.waiters]) waiter(true);
    this.changed(before);
  }

  /** Resolves true as soon as a majority of the Sentinels is heard, false after `timeoutMs`. */
  whenHeard(timeoutMs: number): Promise<boolean> {
    if (this.listening.size >= this.majority) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (heard: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(heard);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.waiters.add(done);
    });
  }

  /** How many Sentinel subscriptions are up. */
  get sentinelsHeard(): number {
    return this.listening.size;
  }

  state(): FenceState {
    if (this.listening.size < this.majority) return 'deaf';
    let sdown = 0;
    for (const view of this.views.values()) {
      if (view.odown || view.failover) return 'failover';
      if (view.sdown) sdown += 1;
    }
    return this.awaiting !== undefined || sdown >= this.majority ? 'failover' : 'open';
  }

  /** Seconds the fence has been closed since the client started, the current closing included. */
  closedSecondsTotal(now = performance.now()): number {
    const current = this.closedSince === undefined ? 0 : (now - this.closedSince) / 1000;
    return this.closedBefore + current;
  }

  private viewOf(sentinel: string): SentinelView {
    let view = this.views.get(sentinel);
    if (view === undefined) {
      view = { sdown: false, odown: false, failover: false };
      this.views.set(sentinel, view);
    }
    return view;
  }

  private changed(before: FenceState): void {
    const after = this.state();
    if (after === before) return;
    if (before === 'open') {
      // Closed, for either reason: a write acknowledged from now on may have raced a failover.
      this.epoch += 1;
      this.closedSince = performance.now();
    } else if (after === 'open' && this.closedSince !== undefined) {
      this.closedBefore += (performance.now() - this.closedSince) / 1000;
      this.closedSince = undefined;
    }
    this.onChange(after);
  }
}
