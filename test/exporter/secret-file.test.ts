import { describe, expect, it } from 'vitest';
import { secretFromFileText } from '../../exporter/secret-file.js';

describe('secretFromFileText', () => {
  it('drops the one trailing newline an editor or echo adds', () => {
    expect(secretFromFileText('s3cret\n')).toBe('s3cret');
    expect(secretFromFileText('s3cret\r\n')).toBe('s3cret');
  });

  it('keeps every other character, spaces included: they are part of the secret', () => {
    expect(secretFromFileText(' pass word \n\n')).toBe(' pass word \n');
    expect(secretFromFileText('no-newline')).toBe('no-newline');
  });
});
