/**
 * The secret in a password or key file: its text less one trailing newline
 * (what `echo` and editors add). Other whitespace is part of the secret, so the
 * exporter, the demo and the rotation command read the same file the same way.
 */
export function secretFromFileText(text: string): string {
  return text.replace(/\r?\n$/, '');
}
