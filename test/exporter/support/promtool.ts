import { execFile } from 'node:child_process';
import { requireBinary } from '../../../stack/binaries.js';

/** `promtool check metrics` findings for an exposition text, one per line (empty when clean). */
export function promtoolFindings(text: string): Promise<string[]> {
  const promtool = requireBinary('promtool');
  return new Promise((resolve, reject) => {
    const child = execFile(
      promtool,
      ['check', 'metrics'],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        const lines = `${stdout}\n${stderr}`
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
        // promtool exits 3 when it has lint findings: that is an answer, not a failure.
        if (error && (error as { code?: unknown }).code !== 3 && lines.length === 0) reject(error);
        else resolve(lines);
      },
    );
    child.stdin?.end(text);
  });
}
