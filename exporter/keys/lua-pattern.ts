/** A Lua pattern uses a feature the translation to a JavaScript RegExp does not cover. */
export class LuaPatternError extends Error {
  override readonly name = 'LuaPatternError';
}

/**
 * Lua 5.1's `%x` classes (Redis runs Lua 5.1) as RegExp character-class
 * bodies (ASCII, like Lua's C locale). No `%g`: it came with Lua 5.2; in 5.1
 * it is a literal `g`, which is refused here rather than guessed.
 */
const CLASSES: Record<string, string> = {
  a: 'A-Za-z',
  d: '0-9',
  l: 'a-z',
  u: 'A-Z',
  s: '\\t\\n\\v\\f\\r ',
  w: 'A-Za-z0-9',
  x: '0-9A-Fa-f',
  p: '!-\\/:-@\\[-`{-~',
  c: '\\x00-\\x1f\\x7f',
};

const escapeInSet = (c: string) => (/[\\\]^-]/.test(c) ? `\\${c}` : c);
const escapeOutside = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');

/**
 * Translates a Lua pattern, as redis_exporter's `--check-key-groups` takes
 * them (`^(%a+):`), into the RegExp the exporter matches key names with in
 * process, so a key-group config carries over unchanged while no Lua runs on
 * Redis. Captures become groups; a key's group name is its captures joined,
 * as `string.find` returns them. `%b`, `%f`, back-references and position
 * captures have no RegExp equivalent here and are refused.
 */
export function compileLuaPattern(pattern: string): RegExp {
  let out = '';
  let i = 0;
  let open = 0;
  const classAt = (at: number): [string, number] => {
    const c = pattern[at];
    if (c === undefined) throw new LuaPatternError('it ends with a lone %');
    const lower = c.toLowerCase();
    if (lower in CLASSES) {
      const body = CLASSES[lower] as string;
      return [c === lower ? body : `^${body}`, at + 1];
    }
    if (c === 'b' || c === 'f') throw new LuaPatternError(`%${c} is not supported`);
    if (lower === 'g') {
      throw new LuaPatternError(
        `%${c} is not a class in Redis' Lua 5.1 (it matches a literal ${c} there); write ${c} or [!-~]`,
      );
    }
    if (/[0-9]/.test(c)) throw new LuaPatternError(`back-reference %${c} is not supported`);
    if (/[A-Za-z0-9]/.test(c)) throw new LuaPatternError(`%${c} is not a Lua character class`);
    return [escapeInSet(c), at + 1];
  };
  if (pattern.startsWith('^')) {
    out += '^';
    i = 1;
  }
  while (i < pattern.length) {
    const c = pattern[i] as string;
    let atom: string;
    if (c === '(') {
      if (pattern[i + 1] === ')')
        throw new LuaPatternError('position captures () are not supported');
      out += '(';
      open++;
      i++;
      continue;
    }
    if (c === ')') {
      if (open === 0) throw new LuaPatternError(`the ) at position ${i + 1} closes no capture`);
      out += ')';
      open--;
      i++;
      continue;
    }
    if (c === '$' && i === pattern.length - 1) {
      out += '$';
      i++;
      continue;
    }
    if (c === '%') {
      const [body, next] = classAt(i + 1);
      atom = `[${body}]`;
      i = next;
    } else if (c === '.') {
      atom = '[\\s\\S]';
      i++;
    } else if (c === '[') {
      let j = i + 1;
      let set = '';
      if (pattern[j] === '^') {
        set += '^';
        j++;
      }
      // A `]` first in the set is a literal, as in Lua.
      let first = true;
      for (;;) {
        const d = pattern[j];
        if (d === undefined)
          throw new LuaPatternError(`the [ at position ${i + 1} is never closed`);
        if (d === ']' && !first) break;
        if (d === '%') {
          const [body, next] = classAt(j + 1);
          if (body.startsWith('^') && body.length > 2) {
            throw new LuaPatternError(
              `a negated class %${pattern[j + 1]} inside [ ] is not supported`,
            );
          }
          set += body;
          j = next;
        } else if (
          pattern[j + 1] === '-' &&
          pattern[j + 2] !== undefined &&
          pattern[j + 2] !== ']'
        ) {
          set += `${escapeInSet(d)}-${escapeInSet(pattern[j + 2] as string)}`;
          j += 3;
        } else {
          set += escapeInSet(d);
          j++;
        }
        first = false;
      }
      atom = `[${set}]`;
      i = j + 1;
    } else {
      atom = escapeOutside(c);
      i++;
    }
    const quantifier = pattern[i];
    if (quantifier === '*' || quantifier === '+' || quantifier === '?') {
      out += atom + quantifier;
      i++;
    } else if (quantifier === '-') {
      out += `${atom}*?`;
      i++;
    } else {
      out += atom;
    }
  }
  if (open > 0) throw new LuaPatternError('a capture ( is never closed');
  return new RegExp(out);
}

/** The group `key` falls in: its captures joined, like redis_exporter's string.find; undefined when no pattern matches. */
export function keyGroupOf(key: string, patterns: readonly RegExp[]): string | undefined {
  for (const pattern of patterns) {
    const match = pattern.exec(key);
    if (match) return match.slice(1).join('');
  }
  return undefined;
}
