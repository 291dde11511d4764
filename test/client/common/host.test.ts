import { describe, expect, it } from 'vitest';
import { hostProblem } from '../../../client/common/host.js';
import { resolveClientsConfig } from '../../../client/connection/config.js';
import { InvalidTargetError, parseTarget } from '../../../exporter/target.js';

/**
 * One host check for the client and the exporter: the same hosts are taken,
 * and refused with the same reason, whether they come in a client `url`, a
 * client `sentinels` entry, or an exporter target.
 */

/** The client's verdict on `host` in a `url`: the host it dials, or its error message. */
function clientUrl(url: string): string {
  try {
    const resolved = resolveClientsConfig({ url });
    return resolved.mode === 'standalone' ? resolved.address.host : 'not standalone';
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

/** The client's verdict on a Sentinel address. */
function clientSentinel(address: string): string {
  try {
    const resolved = resolveClientsConfig({ sentinels: [address], masterName: 'm', tls: false });
    return resolved.mode === 'sentinel' ? (resolved.sentinels[0]?.host ?? '') : 'not sentinel';
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

/** The exporter's verdict on a target. */
function exporterTarget(target: string): string {
  try {
    return parseTarget(target).host;
  } catch (error) {
    if (!(error instanceof InvalidTargetError)) throw error;
    return `error: ${error.message}`;
  }
}

describe('the host check shared by the client and the exporter', () => {
  describe('happy', () => {
    it.each([
      'redis-1.railway.internal',
      'redis',
      'redis_1',
      'project_redis_1.internal',
      '1password.example',
      '10.0.0.5',
      '255.255.255.255',
    ])(
      'takes %j the same way in a client url, a client Sentinel and an exporter target',
      (host) => {
        expect(hostProblem(host)).toBeUndefined();
        expect(clientUrl(`rediss://${host}:6379`)).toBe(host);
        expect(clientSentinel(`${host}:26379`)).toBe(host);
        expect(exporterTarget(`rediss://${host}:6379`)).toBe(host);
      },
    );

    it('takes bracketed IPv6 everywhere', () => {
      expect(clientUrl('rediss://[fd12::5]:6379')).toBe('fd12::5');
      expect(clientSentinel('[fd12::5]:26379')).toBe('fd12::5');
      expect(exporterTarget('rediss://[fd12::5]:6379')).toBe('fd12::5');
    });
  });

  describe('unhappy', () => {
    it.each([
      // [host, reason]: numbers the resolver would read as another IPv4 address
      ['1.2.3', /"1\.2\.3" is not an IPv4 address in dotted-quad form .* nor a DNS name/],
      ['2130706433', /"2130706433" is not an IPv4 address in dotted-quad form/],
      ['0x7f.1', /"0x7f\.1" is not an IPv4 address in dotted-quad form/],
      ['010.0.0.1', /"010\.0\.0\.1" is not an IPv4 address in dotted-quad form/],
      ['10.0.0.256', /"10\.0\.0\.256" is not an IPv4 address in dotted-quad form/],
      // not names
      ['-x', /"-x" is not a DNS name or IP address/],
      ['x-', /"x-" is not a DNS name or IP address/],
      ['host.', /"host\." is not a DNS name or IP address/],
      ['a..b', /"a\.\.b" is not a DNS name or IP address/],
      [`${'a'.repeat(64)}.internal`, /is not a DNS name or IP address .*63 characters/],
    ])(
      'refuses %j with one reason in a client url, a client Sentinel and an exporter target',
      (host, reason) => {
        expect(hostProblem(host)).toBeDefined();
        expect(clientUrl(`rediss://${host}:6379`)).toMatch(reason);
        expect(clientUrl(`rediss://${host}:6379`)).toMatch(/^error: .*url: host /);
        expect(clientSentinel(`${host}:26379`)).toMatch(reason);
        expect(exporterTarget(`rediss://${host}:6379`)).toMatch(reason);
      },
    );

    it('refuses percent-encoded hosts instead of dialling the encoded text', () => {
      expect(clientUrl('redis://%41:1')).toMatch(/host "%41" .*percent-encoded/);
      expect(exporterTarget('redis://%41:1')).toMatch(/host "%41" .*percent-encoded/);
    });

    it('refuses a non-ASCII name, giving its ASCII form (the client used to dial it percent-encoded)', () => {
      expect(clientUrl('rediss://bücher.example:6379')).toMatch(
        /host "bücher\.example" is not ASCII: write the name in its ASCII form, xn--bcher-kva\.example/,
      );
      expect(clientSentinel('bücher.example:26379')).toMatch(/xn--bcher-kva\.example/);
      expect(exporterTarget('rediss://bücher.example:6379')).toMatch(
        /is not ASCII: write the name in its ASCII form, xn--bcher-kva\.example/,
      );
    });

    it('refuses an IPv6 zone id everywhere, saying why (link-local needs a zone Redis cannot announce)', () => {
      const zone =
        /host "fe80::1%eth0" has a zone id \(%eth0\): a link-local IPv6 address needs one, and Redis and Sentinel cannot announce it/;
      expect(clientSentinel('[fe80::1%eth0]:26379')).toMatch(zone);
      expect(clientUrl('rediss://[fe80::1%eth0]:6379')).toMatch(zone);
      expect(exporterTarget('rediss://[fe80::1%eth0]:6379')).toMatch(zone);
      expect(
        (() => {
          try {
            resolveClientsConfig({
              sentinels: [{ host: 'fe80::1%eth0', port: 26379 }],
              masterName: 'm',
            });
            return '';
          } catch (error) {
            return (error as Error).message;
          }
        })(),
      ).toMatch(zone);
    });

    it('tells to bracket an IPv6 address in a client url, as the exporter does', () => {
      const hint = /is not a URL; write an IPv6 address in brackets: rediss:\/\/\[::1\]:6379/;
      expect(clientUrl('rediss://::1:6379')).toMatch(hint);
      expect(exporterTarget('rediss://::1:6379')).toMatch(hint);
    });
  });
});
