import { main } from '../../../cli/main.js';

/**
 * Runs `redscope <argv>` in this process, as a user would type it, and
 * returns its exit code and what it printed. Not a terminal unless `terminal`.
 */
export async function runCli(
  argv: readonly string[],
  terminal = false,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'redscope', ...argv], {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    isTerminal: () => terminal,
  });
  return { code, out, err };
}
