/**
 * A client setting that cannot work, found when the config is parsed.
 * `option` names the setting (or environment variable) to fix.
 */
export class ClientConfigError extends Error {
  override readonly name = 'ClientConfigError';
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(`redscope client config: ${option}: ${problem}`);
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

/**
 * A session write (create or revoke) that too few replicas acknowledged in
 * time: it may exist on the master only, and a failover could lose it.
 */
export class SessionWriteNotDurableError extends Error {
  override readonly name = 'SessionWriteNotDurableError';
  constructor(
    readonly acknowledged: number,
    readonly required: number,
    readonly timeoutMs: number,
  ) {
    super(
      `session write not durable: ${acknowledged} of ${required} replica(s) acknowledged it within ${timeoutMs} ms; retry it, or check replication (INFO replication on the master)`,
    );
  }
}
