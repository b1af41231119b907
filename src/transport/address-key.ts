import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key per-address limits count under. An IPv4 address is itself; an IPv6 address is its
 * /64, because one subscriber is usually handed a whole /64 and can rotate through it at will
 * (counting single IPv6 addresses would limit nothing). IPv4-mapped IPv6 (`::ffff:1.2.3.4`)
 * is the IPv4 address. Anything else (a router that reports garbage) is its own key, capped
 * in length so it cannot bloat the maps.
 */
export function addressKey(address: string): string {
  const bare = address.trim();
  if (isIPv4(bare)) return bare;
  const noZone = bare.split('%', 1)[0] ?? bare;
  if (!isIPv6(noZone)) return bare.slice(0, 64);
  const lower = noZone.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped?.[1]) return mapped[1];
  return `${ipv6Groups(lower).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, `::` expanded, without leading zeros. */
function ipv6Groups(address: string): string[] {
  // A trailing embedded IPv4 (`64:ff9b::1.2.3.4`) is two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  let text = address;
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${address.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - headGroups.length - tailGroups.length }, () => '0');
  return [...headGroups, ...zeros, ...tailGroups].map((g) => parseInt(g, 16).toString(16));
}
