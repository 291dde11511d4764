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
  | 'connection-changed';

/**
 * A write that Redis accepted but that no (or too few) replicas confirmed in
 * time. The write may still be on the master, but a failover now could lose
 * it: retry it, or treat it as not done.
 */
export class DurableWriteError extends Error {
  override readonly name = 'DurableWriteError';
  constructor(
    readonly reason: DurableWriteFailure,
    /** Replicas that acknowledged (0 when the connection changed). */
    readonly acknowledged: number,
    readonly required: number,
    readonly timeoutMs: number,
  ) {
    super(
      reason === 'not-acknowledged'
        ? `write not durable: ${acknowledged} of ${required} required replica(s) acknowledged it within ${timeoutMs} ms; retry it, or check replication (INFO replication on the master)`
        : 'write not durable: the connection to the master changed before WAIT answered (failover or reconnect); retry it',
    );
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
