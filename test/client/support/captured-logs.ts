import { Writable } from 'node:stream';

/** A pino destination that keeps every line parsed, like pino's own test helper. */
export function capturedLogs(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      pending += String(chunk);
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        lines.push(JSON.parse(pending.slice(0, newline)) as Record<string, unknown>);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      callback();
    },
  });
  return { stream, lines };
}
