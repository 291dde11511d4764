/**
 * Text that came from Redis (key names, report fields anyone with write
 * access could fill) with every control character replaced: no escape
 * sequence reaches the terminal.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}
