import { describe, expect, it } from 'vitest';
import { copyReply, sizeOf } from '../../../client/hotkeys/near-cache.js';

describe('the near-cache copy of a raw reply', () => {
  describe('happy', () => {
    it('copies every Buffer, however deep, so an app editing its reply changes no cached one', () => {
      const raw = [Buffer.from('a'), [Buffer.from('b'), 7, null]];
      const copy = copyReply(raw) as [Buffer, [Buffer, number, null]];
      expect(copy).toEqual(raw);
      copy[0].write('z');
      copy[1][0].write('z');
      expect(raw.map(String)).toEqual(['a', 'b,7,']);
    });

    it('copies RESP3 maps and objects, keeping a field named __proto__ a field', () => {
      const map = new Map([[Buffer.from('k'), Buffer.from('v')]]);
      expect(copyReply(map)).toEqual(map);
      expect(copyReply(map)).not.toBe(map);
      const object = JSON.parse('{"__proto__": "x", "a": 1}') as Record<string, unknown>;
      const copy = copyReply(object) as Record<string, unknown>;
      expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
      expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    });

    it('estimates more bytes for a bigger reply', () => {
      const small = sizeOf(Buffer.from('x')) ?? 0;
      const big = sizeOf(Buffer.alloc(1024)) ?? 0;
      expect(big - small).toBe(1023);
      expect(sizeOf([Buffer.alloc(100), Buffer.alloc(100)])).toBeGreaterThan(200);
    });
  });

  describe('unhappy', () => {
    it('gives no size, so no entry, for a reply holding an error', () => {
      expect(sizeOf([Buffer.from('ok'), new Error('WRONGTYPE')])).toBeUndefined();
    });
  });
});
