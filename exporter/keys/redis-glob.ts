/**
 * Why `pattern` is not a glob Redis' SCAN MATCH reads as meant, or undefined
 * when it is. Redis never rejects a pattern: an unclosed `[` or a trailing
 * backslash silently matches something else, so the exporter refuses them at
 * start instead of exporting nothing.
 */
export function globProblem(pattern: string): string | undefined {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (i === pattern.length - 1) return 'it ends with a lone backslash';
      i++;
    } else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      // A `]` right after `[` or `[^` closes nothing in Redis' matcher: it ends the set empty.
      let closed = false;
      for (; j < pattern.length; j++) {
        if (pattern[j] === '\\') {
          j++;
        } else if (pattern[j] === ']') {
          closed = true;
          break;
        }
      }
      if (!closed) return `the [ at position ${i + 1} is never closed`;
      i = j;
    }
  }
  return undefined;
}
