import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { REDACTED } from '../../client/common/redaction.js';
import { createExporterLogger } from '../../exporter/logger.js';

/** The lines a logger wrote, parsed. */
function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('the exporter logger', () => {
  describe('unhappy', () => {
    it('writes the shared REDACTED placeholder for passwords, auth and authorization headers', () => {
      const { lines, stream } = capture();
      const logger = createExporterLogger('info', stream);
      logger.info(
        {
          password: 'p1-secret',
          target: { password: 'p2-secret' },
          auth: { username: 'u', password: 'p3-secret' },
          headers: { authorization: 'Basic c2VjcmV0' },
        },
        'careless line',
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        password: REDACTED,
        target: { password: REDACTED },
        auth: REDACTED,
        headers: { authorization: REDACTED },
      });
      expect(JSON.stringify(lines)).not.toMatch(/p[123]-secret|c2VjcmV0/);
    });
  });
});
