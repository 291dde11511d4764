import { describe, expect, it } from 'vitest';
import { sentinelEntryFor } from '../../stack/certificate-rotation.js';

/** A `SENTINEL SENTINELS` entry as the rotation reads it. */
const entry = (ip: string, port: number, flags = 'sentinel') => ({ ip, port: String(port), flags });

/** Three Sentinels of one deployment, as the rotation plan names them. */
const railway = [1, 2, 3].map((i) => ({ host: `sentinel-${i}.railway.internal`, port: 26379 }));
const oneHost = [26379, 26380, 26381].map((port) => ({ host: '127.0.0.1', port }));

describe('which SENTINEL SENTINELS entry is the restarted Sentinel', () => {
  describe('happy', () => {
    it('every Sentinel on 26379 (one per service): the entry with its host, in any case', () => {
      const view = [
        entry('sentinel-1.railway.internal', 26379, 'sdown,sentinel'),
        entry('SENTINEL-2.railway.internal', 26379),
      ];
      expect(sentinelEntryFor(view, railway[1] as (typeof railway)[number], railway)).toEqual(
        view[1],
      );
      expect(sentinelEntryFor(view, railway[0] as (typeof railway)[number], railway)).toEqual(
        view[0],
      );
    });

    it('a port per Sentinel (one host): the port alone, however the peer names the host', () => {
      // A peer may know it by the IP it connected from rather than the name in the plan.
      const view = [entry('10.0.0.7', 26380), entry('10.0.0.7', 26381)];
      expect(sentinelEntryFor(view, oneHost[1] as (typeof oneHost)[number], oneHost)).toEqual(
        view[0],
      );
    });
  });

  describe('unhappy', () => {
    it('ports shared: another Sentinel alone on that port is not taken for it', () => {
      // The peer lists sentinel-3 only (it has not heard of sentinel-2 under that name):
      // the restarted sentinel-2 has not rejoined, whatever sentinel-3's flags say.
      const view = [entry('sentinel-3.railway.internal', 26379)];
      expect(
        sentinelEntryFor(view, railway[1] as (typeof railway)[number], railway),
      ).toBeUndefined();
    });

    it('ports shared by some Sentinels only: host and port both decide', () => {
      const mixed = [
        { host: 'a.internal', port: 26379 },
        { host: 'b.internal', port: 26379 },
        { host: 'c.internal', port: 26380 },
      ];
      const view = [entry('b.internal', 26379), entry('c.internal', 26380)];
      expect(sentinelEntryFor(view, mixed[0] as (typeof mixed)[number], mixed)).toBeUndefined();
      expect(sentinelEntryFor(view, mixed[2] as (typeof mixed)[number], mixed)).toEqual(view[1]);
    });
  });
});
