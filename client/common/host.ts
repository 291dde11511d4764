import { isIP, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * The one host check of the client (`url`, `sentinels`, `preferredReplicas`)
 * and the exporter (`--redis-url`, `--sentinels`, `/scrape?target=`), so both
 * take and refuse the same hosts with the same words.
 *
 * A host is an IPv4 address in dotted-quad form (`10.0.0.5`), an IPv6 address
 * (brackets already removed), or a DNS name: dot-separated labels of ASCII
 * letters, digits, `-` (not at either end of a label) and `_` (Docker and
 * Compose service names use it), at most 63 characters a label and 253 in all.
 *
 * Refused, each with its own reason:
 * - a name whose last label is a number (`1.2.3`, `2130706433`, `0x7f.1`,
 *   `010.0.0.1`): the system resolver reads such a string as an IPv4 address
 *   (inet_aton's forms), so it would silently dial another address than the
 *   one written;
 * - an IPv6 address with a zone id (`fe80::1%eth0`): only link-local addresses
 *   need one, and Redis and Sentinel cannot announce it to clients (a replica
 *   or a master found through Sentinel would be announced without it);
 * - a non-ASCII name (`bücher.example`): written as its ASCII (`xn--`) form,
 *   the form certificates and DNS carry;
 * - percent-encoded text, a `:` that is not an IPv6 address, a space, a URL.
 */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'is empty';
  const zone = host.indexOf('%');
  if (zone > 0 && isIPv6(host.slice(0, zone))) {
    return (
      `has a zone id (${host.slice(zone)}): a link-local IPv6 address needs one, and Redis ` +
      'and Sentinel cannot announce it to clients; use a global or unique-local (fd00::/8) ' +
      'address or a DNS name'
    );
  }
  if (zone >= 0) {
    return 'is not a DNS name or IP address (percent-encoded text is not a host name)';
  }
  if (isIP(host) !== 0) return undefined;
  if (host.includes(':')) {
    return 'is neither a DNS name nor an IP address (an IPv6 address goes in brackets: [fd00::5]:6379)';
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (/[^\x00-\x7f]/.test(host)) {
    const ascii = domainToASCII(host);
    return ascii !== '' && hostProblem(ascii) === undefined
      ? `is not ASCII: write the name in its ASCII form, ${ascii}`
      : 'is not a DNS name or IP address';
  }
  const labels = host.split('.');
  const label = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
  if (host.length > 253 || !labels.every((l) => label.test(l))) {
    return (
      'is not a DNS name or IP address (a name is dot-separated labels of letters, digits, ' +
      '"-" and "_", up to 63 characters each)'
    );
  }
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(labels.at(-1) as string)) {
    return (
      'is not an IPv4 address in dotted-quad form (four numbers 0-255, e.g. 10.0.0.5) nor a ' +
      'DNS name: the resolver would read it as some other IPv4 address'
    );
  }
  return undefined;
}

/**
 * The host of a `redis://` or `rediss://` URL from `new URL(...).hostname`,
 * which keeps the brackets of an IPv6 address and percent-encodes anything
 * else it does not take literally (URLs of these schemes get no IDNA or IPv4
 * processing): `host` without brackets, `written` as the user wrote it (for
 * messages), and hostProblem() of it.
 */
export function urlHost(hostname: string): {
  host: string;
  written: string;
  problem: string | undefined;
} {
  if (hostname.startsWith('[') && hostname.endsWith(']')) {
    const host = hostname.slice(1, -1);
    return { host, written: host, problem: hostProblem(host) };
  }
  let written = hostname;
  if (hostname.includes('%')) {
    try {
      written = decodeURIComponent(hostname);
    } catch {
      // not valid percent-encoding: shown as it is
    }
    // A decoded name that is plain ASCII was percent-encoded on purpose (`%41`): refused as such.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
    if (!/[^\x00-\x7f]/.test(written)) written = hostname;
  }
  return { host: hostname, written, problem: hostProblem(written) };
}

/**
 * What to tell about the host of a URL that `new URL()` refused, when the
 * host is the likely cause: an IPv6 address without brackets
 * (`rediss://::1:6379`), or one with a zone id (`rediss://[fe80::1%eth0]:6379`).
 */
export function unparsedUrlHostHint(url: string): string | undefined {
  const authority =
    url
      .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
      .split(/[/?#]/)[0]
      ?.replace(/^.*@/, '') ?? '';
  const bracketed = /^\[([^\]]*)\]/.exec(authority)?.[1];
  if (bracketed !== undefined) {
    const problem = hostProblem(bracketed);
    return problem !== undefined && bracketed.includes('%')
      ? `host "${bracketed}" ${problem}`
      : undefined;
  }
  if (isIPv6(authority) || isIPv6(authority.replace(/:\d+$/, ''))) {
    return 'write an IPv6 address in brackets: rediss://[::1]:6379';
  }
  return undefined;
}
