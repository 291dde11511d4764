import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { type DestinationStream, type Level, type Logger, pino } from 'pino';
import { createRedactor } from './redact.js';
import { currentRequestContext } from './request-context.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /**
   * Lowest level written.
   * @default `info`
   */
  readonly level?: Level | 'silent';
  /** `name` field on every line, e.g. the service name. */
  readonly name?: string;
  /**
   * Where JSON lines go. Tests pass a stream; `createRollingFileDestination` gives rotated files.
   * @default stdout
   */
  readonly destination?: DestinationStream;
  /** Extra field names to censor at any depth, on top of `DEFAULT_REDACTED_KEYS`. */
  readonly redactKeys?: readonly string[];
}

/**
 * A pino logger that writes one JSON object per line with `level` as a word,
 * an ISO `time`, and, inside a request context, `correlation_id`, `user_id`,
 * `org_id` and the hashed `session_id`; `trace_id` and `span_id` when a span
 * is active. Fields named like a secret (`DEFAULT_REDACTED_KEYS`: password,
 * token, authorization, cookie, sessionId, ...) come out as `[REDACTED]` at any depth.
 *
 * ```ts
 * const logger = createLogger({ level: 'debug', name: 'checkout' });
 * logger.info({ orderId: 7 }, 'order placed');
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const redact = createRedactor(options.redactKeys);
  return pino(
    {
      level: options.level ?? 'info',
      ...(options.name ? { name: options.name } : {}),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: redact },
      mixin: correlationFields,
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

function correlationFields(): Record<string, string> {
  const fields: Record<string, string> = {};
  const request = currentRequestContext();
  if (request) {
    fields.correlation_id = request.correlationId;
    if (request.userId !== undefined) fields.user_id = request.userId;
    if (request.orgId !== undefined) fields.org_id = request.orgId;
    if (request.sessionIdHash !== undefined) fields.session_id = request.sessionIdHash;
  }
  const span = trace.getSpan(context.active());
  if (span) {
    const spanContext = span.spanContext();
    if (isSpanContextValid(spanContext)) {
      fields.trace_id = spanContext.traceId;
      fields.span_id = spanContext.spanId;
    }
  }
  return fields;
}

export interface RollingFileOptions {
  /** Path of the log file; rotated files get `.<date>.<n>` before the extension. */
  readonly file: string;
  /** Rotate when the file reaches this size, e.g. `10m` (pino-roll units k, m, g). */
  readonly size?: string;
  /** Rotate daily, hourly or every N ms. */
  readonly frequency?: 'daily' | 'hourly' | number;
  /** Rotated files to keep besides the active one. */
  readonly keep: number;
}

type PinoRoll = (options: Record<string, unknown>) => Promise<DestinationStream>;

/**
 * A destination that writes to `file` and rotates by size and/or time,
 * keeping `keep` old files (pino-roll, in this thread: no worker to flush at exit).
 *
 * ```ts
 * const destination = await createRollingFileDestination({ file: '/var/log/app/app.log', size: '10m', frequency: 'daily', keep: 7 });
 * const logger = createLogger({ destination });
 * ```
 */
export async function createRollingFileDestination(
  options: RollingFileOptions,
): Promise<DestinationStream> {
  // pino-roll ships no types; the import name is a variable so tsc does not look for them.
  const moduleName = 'pino-roll';
  const { default: build } = (await import(moduleName)) as { default: PinoRoll };
  return build({
    file: options.file,
    ...(options.size ? { size: options.size } : {}),
    ...(options.frequency ? { frequency: options.frequency } : {}),
    dateFormat: 'yyyy-MM-dd',
    limit: { count: options.keep },
    mkdir: true,
  });
}
