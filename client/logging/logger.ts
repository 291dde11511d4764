import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { type DestinationStream, type Level, type Logger, pino } from 'pino';
import { redactUrlCredentials } from '../common/redaction.js';
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
      // errorFields() objects as they are (no empty stack); real errors through pino's own.
      serializers: {
        err: (value: unknown) =>
          value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === null
            ? { ...(value as LoggedError) }
            : pino.stdSerializers.err(value as Error),
      },
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

/** An error as a log line shows it: its class, a redacted message, its code. */
export interface LoggedError {
  readonly type: string;
  readonly message: string;
  readonly code?: string;
}

/**
 * The `err` field of a line about `error`: the class in `type`, the message
 * with URL credentials redacted, the code, and nothing else. Never the error
 * itself: pino's serializer copies every own property, and an ioredis reply
 * error carries the command that failed, arguments included (a handshake's
 * HELLO carries the password). The object has no prototype, so pino's `err`
 * serializer in an app's own logger keeps `type` as given instead of
 * writing "Object".
 */
export function errorFields(error: unknown): LoggedError {
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | null | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const fields: { type: string; message: string; code?: string } = Object.create(null);
  fields.type = typeof e?.name === 'string' && e.name !== '' ? e.name : 'Error';
  fields.message = redactUrlCredentials(message.split('\n')[0] ?? '').slice(0, 500);
  if (typeof e?.code === 'string') fields.code = e.code;
  return fields;
}
