import { type Logger, pino } from 'pino';
import { REDACTED } from '../client/common/redaction.js';

/**
 * The exporter's logger: JSON lines on stderr (the exporter is an app). Paths
 * that could carry secrets are redacted, so a careless debug line cannot leak one.
 */
export function createExporterLogger(
  level: string,
  destination: NodeJS.WritableStream = process.stderr,
): Logger {
  return pino(
    {
      name: 'redscope-exporter',
      level,
      redact: {
        paths: ['password', '*.password', 'auth', '*.auth', 'headers.authorization'],
        censor: REDACTED,
      },
    },
    destination,
  );
}
