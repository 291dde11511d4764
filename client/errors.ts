/**
 * A client setting that cannot work, found before any connection is made.
 * `option` names the setting (an option path such as `sentinels[1]` or
 * `tls.caFile`, or an environment variable) and the message says what is allowed.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    /** The option path or environment variable to fix. */
    readonly option: string,
    problem: string,
  ) {
    super(`redscope client config: ${option}: ${problem}`);
  }
}

/** Why a durable write could not be confirmed. */
export type DurableWriteFailure =
  /** Fewer replicas than required acknowledged the write before the WAIT timeout. */
  | 'not-acknowledged'
  /** The connection closed between the write and its WAIT, so the count proves nothing. */
  | 'connection-changed'
  /**
   * A failover of the master began (the Sentinels said so) before the write
   * was acknowledged, or is under way (on a cluster: no master answers for
   * the keys' slot yet).
   */
  | 'failover'
  /** Fewer than a majority of the Sentinels is heard, so a failover could begin unseen (durable writes fail closed). */
  | 'no-sentinel';

/**
 * A durable write that could not be confirmed. `outcome` says what the app
 * may assume: `not-written` (refused before anything was sent: retry it as
 * is), or `unknown` (Redis may have it, only on the master, and a failover
 * could drop it: retry it if it is idempotent, else check first).
 */
export class DurableWriteError extends Error {
  override readonly name = 'DurableWriteError';
  readonly reason: DurableWriteFailure;
  readonly outcome: 'not-written' | 'unknown';
  /** Replicas that acknowledged (0 when none was asked or the count proves nothing). */
  readonly acknowledged: number;
  readonly required: number;
  readonly timeoutMs: number;

  constructor(failure: {
    readonly reason: DurableWriteFailure;
    readonly outcome: 'not-written' | 'unknown';
    readonly acknowledged?: number;
    readonly required: number;
    readonly timeoutMs: number;
    /** What failed underneath (a timeout, a closed connection), without the command's arguments. */
    readonly cause?: unknown;
  }) {
    const { reason, outcome, required, timeoutMs } = failure;
    const acknowledged = failure.acknowledged ?? 0;
    super(
      DurableWriteError.describe(reason, outcome, acknowledged, required, timeoutMs),
      failure.cause === undefined ? undefined : { cause: failure.cause },
    );
    this.reason = reason;
    this.outcome = outcome;
    this.acknowledged = acknowledged;
    this.required = required;
    this.timeoutMs = timeoutMs;
  }

  private static describe(
    reason: DurableWriteFailure,
    outcome: 'not-written' | 'unknown',
    acknowledged: number,
    required: number,
    timeoutMs: number,
  ): string {
    switch (reason) {
      case 'not-acknowledged':
        return `write not durable: ${acknowledged} of ${required} required replica(s) acknowledged it within ${timeoutMs} ms; retry it, or check replication (INFO replication on the master)`;
      case 'connection-changed':
        return 'write not durable: the connection to the master changed before WAIT answered (failover or reconnect); retry it';
      case 'failover':
        return outcome === 'not-written'
          ? 'write refused: a failover of the master is under way (the Sentinels said so, or the cluster has no master for the keys’ slot yet); nothing was sent, retry it after the failover'
          : 'write outcome unknown: a failover of the master began before the replicas acknowledged it, and a failover can drop it; retry it';
      case 'no-sentinel':
        return 'write refused: fewer than a majority of the Sentinels is heard, so a failover could go unseen; nothing was sent (allowWithoutSentinels: true accepts that risk)';
    }
  }
}

/**
 * `startTelemetry()` needs the OpenTelemetry SDK, an optional peer dependency.
 * The message names the packages to install.
 */
export class TelemetryUnavailableError extends Error {
  override readonly name = 'TelemetryUnavailableError';
  constructor(
    readonly packageName: string,
    cause: unknown,
  ) {
    super(
      `tracing needs ${packageName}: run \`npm install ${packageName}\` or turn tracing off (REDSCOPE_TRACING=off)`,
      { cause },
    );
  }
}
