import type { DurableWriteFailure } from '../errors.js';
import type { FailoverFence } from './failover-fence.js';

/** What the client metrics show of durable writes: refusals by reason, and the fence in Sentinel mode. */
export class DurabilityStats {
  readonly refusals = new Map<DurableWriteFailure, number>();
  fence: FailoverFence | undefined;

  rejected(reason: DurableWriteFailure): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }
}
