/**
 * Go's `strconv.ParseFloat(s, 64)`, which redis_exporter uses to decide what a
 * CONFIG value or a script's value is worth: decimal and hexadecimal (`0x1p4`)
 * literals, `_` between digits (`1_000`), `inf`/`infinity` with a sign and
 * `nan` in any case; no surrounding spaces, no `0x10` without a `p` exponent,
 * nothing past the float range. Returns undefined where Go returns an error.
 * (JavaScript's Number() differs: it reads `0x10`, `' 5'` and `''` too.)
 */
export function parseGoFloat(text: string): number | undefined {
  if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return Number.NaN;
  let value: number;
  if (DECIMAL.test(text)) {
    value = Number(text.replace(/_/g, ''));
  } else {
    const hex = HEX.exec(text);
    if (!hex) return undefined;
    const [, sign, whole = '', fraction = '', exponent = '0'] = hex;
    const digits = `${whole}${fraction}`.replace(/_/g, '');
    const mantissa = Number.parseInt(digits, 16);
    const power = Number(exponent.replace(/_/g, '')) - 4 * fraction.replace(/_/g, '').length;
    value = (sign === '-' ? -1 : 1) * mantissa * 2 ** power;
  }
  if (!underscoresAllowed(text)) return undefined;
  // Past the float64 range Go answers ErrRange (an error for redis_exporter), not ±Inf.
  return Number.isFinite(value) ? value : undefined;
}

/** Mantissa with at least one digit and at most one dot, optional exponent; `_` placement checked apart. */
const DECIMAL = /^[+-]?(?=[\d_]*\.?[\d_]*\d)[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d[\d_]*)?$/;
/** A hexadecimal float needs the `p` exponent in Go. */
const HEX =
  /^([+-]?)0[xX](?=[\d_a-fA-F]*\.?[\d_a-fA-F]*[\da-fA-F])([\d_a-fA-F]*)(?:\.([\d_a-fA-F]*))?[pP]([+-]?\d[\d_]*)$/;

/** Go's underscoreOK: `_` only between digits, or between the base prefix and a digit. */
function underscoresAllowed(text: string): boolean {
  if (!text.includes('_')) return true;
  let s = text;
  if (s.startsWith('+') || s.startsWith('-')) s = s.slice(1);
  let saw = '^';
  let i = 0;
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && /[bBoOxX]/.test(s[1] as string)) {
    i = 2;
    saw = '0';
    hex = /[xX]/.test(s[1] as string);
  }
  for (; i < s.length; i++) {
    const c = s[i] as string;
    if (/\d/.test(c) || (hex && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}
