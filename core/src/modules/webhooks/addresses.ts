import dns from 'node:dns';
import net from 'node:net';

/**
 * Where a webhook may not go unless the operator allows private addresses: loopback, private,
 * link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, reserved and
 * documentation ranges, and every IPv6 form of them (IPv4-mapped, NAT64 and 6to4 embed an IPv4
 * address, so they are refused whole).
 */
// Two lists: one BlockList holding both families matches IPv4 addresses against IPv6 rules as mapped addresses.
const BLOCKED_V4 = new net.BlockList();
const BLOCKED_V6 = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED_V4.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED_V6.addSubnet(network, prefix, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  return family === 4 ? !BLOCKED_V4.check(address, 'ipv4') : !BLOCKED_V6.check(address, 'ipv6');
}

export class AddressRefused extends Error {}

/** The host of a URL as the resolver takes it (IPv6 literals lose their brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Every address the host resolves to, refused if any one is not public: a name that resolves to a
 * public and a private address would otherwise reach the private one on some connection.
 */
export async function resolvePublic(host: string): Promise<Array<{ address: string; family: number }>> {
  const addresses = net.isIP(host)
    ? [{ address: host, family: net.isIP(host) }]
    : await dns.promises.lookup(host, { all: true, verbatim: true });
  if (!addresses.length) throw new AddressRefused(`${host} does not resolve`);
  const refused = addresses.find((a) => !isPublicAddress(a.address));
  if (refused) throw new AddressRefused(`${host} resolves to ${refused.address}, a private or reserved address`);
  return addresses;
}

/**
 * A `lookup` for http.request that connects only to an address it has checked: the check and the
 * connection use the same answer, so a name re-pointed between them (DNS rebinding) gains nothing.
 */
export function publicLookup(): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    resolvePublic(hostname).then(
      (addresses) => {
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: unknown) => callback(error),
    );
  }) as unknown as net.LookupFunction;
}
