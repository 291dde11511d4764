import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compileRedactionPatterns,
  KeyRedactor,
  looksLikeToken,
  RedactionPatternError,
} from '../../../client/common/key-redaction.js';

const secret = 'test-secret-0123456789';
const hashOf = (part: string, key = secret) =>
  `#${createHmac('sha256', key).update(part).digest('hex').slice(0, 10)}`;

describe('key redaction', () => {
  const redactor = new KeyRedactor({ secret });

  it('hashes everything after a session segment and keeps the readable prefix', () => {
    expect(redactor.redact('demo:session:abc')).toBe(`demo:session:${hashOf('abc')}`);
    expect(redactor.redact('session:a:b')).toBe(`session:${hashOf('a:b')}`);
  });

  it('hashes token-looking segments anywhere: long hex, UUIDs, base64url', () => {
    const hex = 'f'.repeat(40);
    const uuid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    const b64 = 'eyJhbGciOiJIUzI1NiJ9_abc123XYZ';
    expect(redactor.redact(`cart:${hex}:items`)).toBe(`cart:${hashOf(hex)}:items`);
    expect(redactor.redact(`user:${uuid}`)).toBe(`user:${hashOf(uuid)}`);
    expect(redactor.redact(`api-token:${b64}`)).toBe(`api-token:${hashOf(b64)}`);
  });

  it('leaves plain names and small ids readable', () => {
    for (const key of [
      'demo:org:42:settings',
      'organization_settings_cache',
      'queue:jobs:waiting',
    ]) {
      expect(redactor.redact(key)).toBe(key);
    }
    expect(looksLikeToken('organization_settings_cache')).toBe(false);
  });

  it('maps one key to one label, and a different secret to a different one', () => {
    const other = new KeyRedactor({ secret: 'another-secret-9876543210' });
    expect(redactor.redact('demo:session:abc')).toBe(redactor.redact('demo:session:abc'));
    expect(other.redact('demo:session:abc')).not.toBe(redactor.redact('demo:session:abc'));
  });

  it('applies configured globs and regular expressions', () => {
    const custom = new KeyRedactor({
      secret,
      patterns: ['user:*:profile', '/^invite:([a-z]+)$/'],
    });
    expect(custom.redact('app:user:alice:profile')).toBe(`app:user:${hashOf('alice')}:profile`);
    expect(custom.redact('invite:bob')).toBe(`invite:${hashOf('bob')}`);
    // The default session pattern is replaced by the configured list, token detection stays.
    expect(custom.redact('session:plain')).toBe('session:plain');
  });
});

describe('key redaction leaves no secret readable', () => {
  const redactor = new KeyRedactor({ secret });

  it('hashes whatever is not a plain word or a small number, whatever the separator', () => {
    const hex = '9f86d081884c7d659a2feaa0c55ad015';
    for (const [key, expected] of [
      [`auth/token/${hex}`, `auth/token/${hashOf(hex)}`],
      [`user.${hex}`, `user.${hashOf(hex)}`],
      ['api_key=AKIAABCDEFGH12345678', `api_key=${hashOf('AKIAABCDEFGH12345678')}`],
      [`pwreset:#${hex}`, `pwreset:${hashOf(`#${hex}`)}`],
      ['user:x7Kq9:Zp3w8:profile', `user:${hashOf('x7Kq9')}:${hashOf('Zp3w8')}:profile`],
    ] as const) {
      expect(redactor.redact(key)).toBe(expected);
    }
    const jwt = 'jwt:eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl';
    expect(redactor.redact(jwt)).not.toMatch(/eyJ|c2ln/);
  });

  it('hashes a nested capture group whole, leaving no tail of it', () => {
    const nested = new KeyRedactor({ secret, patterns: ['/^tok:((\\w{4})\\w+)$/'] });
    expect(nested.redact('tok:abcdSECRETSECRET')).toBe(`tok:${hashOf('abcdSECRETSECRET')}`);
  });
});

describe('key redaction, bad input', () => {
  it('names a regular expression that does not compile', () => {
    expect(() => compileRedactionPatterns(['session:*', '/([a-z/'])).toThrow(RedactionPatternError);
    expect(() => compileRedactionPatterns(['/([a-z/'])).toThrow(/pattern 0 \(\/\(\[a-z\/\)/);
  });

  it('refuses a glob without a secret part, a regex without a group, and an empty pattern', () => {
    expect(() => compileRedactionPatterns(['session:'])).toThrow(/has no "\*"/);
    expect(() => compileRedactionPatterns(['/^session:.+$/'])).toThrow(/no capture group/);
    expect(() => compileRedactionPatterns([''])).toThrow(/is empty/);
  });

  it('refuses a short secret', () => {
    expect(() => new KeyRedactor({ secret: 'short' })).toThrow(/at least 16 characters/);
  });
});
