import { parseInstanceEvent, parseSwitchMaster } from '../common/sentinel-messages.js';
import type { Address } from './config.js';

/** Why the fence refuses to confirm a durable write now. */
export type FenceState =
  /** No failover in sight, and at least one Sentinel is heard. */
  | 'open'
  /** A failover of the master may have begun, and has not resolved. */
  | 'failover'
  /** No Sentinel is heard: a failover could begin unseen. */
  | 'deaf';

/** Sentinel events that mean a failover of the master is under way. */
const FAILOVER_STEPS =
  /^\+(try-failover|elected-leader|selected-slave|promoted-slave|failover-state-.+)$/;

/**
 * What the client knows of failovers of its master, from every Sentinel it
 * subscribes to. A failover always begins with the Sentinels agreeing the
 * master is down, well before a replica is promoted; a durable write whose
 * acknowledgement races that moment may be acknowledged by a replica that is
 * about to resync from the new master and drop it. So the fence closes at the
 * first sign (a quorum's `+sdown`, `+odown`, any failover step, `+switch-master`)
 * and opens again only when the failover resolved: the writer is connected to
 * the announced new master, or the Sentinels agree the old master is back with
 * no failover running. `epoch` counts closings, so a write that started before
 * one and was acknowledged after it is refused too.
 */
export class FailoverFence {
  /** Incremented each time the fence closes. */
  epoch = 0;
  private readonly sdownBy = new Set<string>();
  private odown = false;
  private failoverRunning = false;
  /** The master the Sentinels announced, until the writer is on it. */
  private awaiting: Address | undefined;
  private readonly listening = new Set<string>();
  private closedSince: number | undefined;
  private closedBefore = 0;

  /** Called with the new state at every change (the factory logs it). */
  onChange: (state: FenceState) => void = () => undefined;

  constructor(
    private readonly masterName: string,
    /** How many Sentinels' `+sdown` close the fence (a majority of those configured). */
    private readonly sdownQuorum: number,
  ) {}

  /** A message on Sentinel `sentinel`'s pub/sub channel `channel`. */
  handle(sentinel: string, channel: string, message: string): void {
    const before = this.state();
    if (channel === '+switch-master') {
      const switched = parseSwitchMaster(message);
      if (switched?.name !== this.masterName) return;
      this.awaiting = switched.to;
      this.failoverRunning = false;
      this.odown = false;
      this.sdownBy.clear();
    } else {
      const event = parseInstanceEvent(message);
      if (event === undefined || event.masterName !== this.masterName || event.type !== 'master') {
        return;
      }
      if (channel === '+sdown') this.sdownBy.add(sentinel);
      else if (channel === '-sdown') this.sdownBy.delete(sentinel);
      else if (channel === '+odown') this.odown = true;
      else if (channel === '-odown') this.odown = false;
      else if (FAILOVER_STEPS.test(channel)) this.failoverRunning = true;
      else if (channel.startsWith('+failover-end') || channel.startsWith('-failover-abort')) {
        this.failoverRunning = false;
      } else return;
    }
    this.changed(before);
  }

  /** The writer is connected to `address`: a failover the Sentinels announced has reached the client. */
  writerOn(address: Address): void {
    const before = this.state();
    if (this.awaiting?.host === address.host && this.awaiting.port === address.port) {
      this.awaiting = undefined;
    }
    this.changed(before);
  }

  /** Whether the subscription to Sentinel `sentinel` is up. */
  hearing(sentinel: string, up: boolean): void {
    const before = this.state();
    if (up) {
      this.listening.add(sentinel);
      this.everHeard = true;
    } else this.listening.delete(sentinel);
    if (up) for (const waiter of [...this.waiters]) waiter(true);
    this.changed(before);
  }

  /** Resolves true as soon as a Sentinel is heard, false after `timeoutMs`. */
  whenHeard(timeoutMs: number): Promise<boolean> {
    if (this.listening.size > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (heard: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(heard);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(done);
    });
  }

  private readonly waiters = new Set<(heard: boolean) => void>();

  /** Whether any Sentinel was ever heard: before that, the client is still starting. */
  everHeard = false;

  /** How many Sentinel subscriptions are up. */
  get sentinelsHeard(): number {
    return this.listening.size;
  }

  state(): FenceState {
    if (this.listening.size === 0) return 'deaf';
    const closed =
      this.odown ||
      this.failoverRunning ||
      this.awaiting !== undefined ||
      this.sdownBy.size >= this.sdownQuorum;
    return closed ? 'failover' : 'open';
  }

  /** Seconds the fence has been closed since the client started, the current closing included. */
  closedSecondsTotal(now = performance.now()): number {
    const current = this.closedSince === undefined ? 0 : (now - this.closedSince) / 1000;
    return this.closedBefore + current;
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
