/** Small, strict parsers for environment variables. Each returns a value or a problem text. */

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export function integer(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    if (!/^\d+$/.test(raw.trim())) return { ok: false, problem: `must be a whole number from ${min} to ${max}` };
    const value = Number(raw.trim());
    if (value < min || value > max) return { ok: false, problem: `must be from ${min} to ${max}` };
    return { ok: true, value };
  };
}

export function boolean(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return { ok: true, value: true };
  if (['0', 'false', 'no', 'off'].includes(v)) return { ok: true, value: false };
  return { ok: false, problem: 'must be true or false' };
}

export function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): Parsed<T> => {
    const v = raw.trim() as T;
    return values.includes(v) ? { ok: true, value: v } : { ok: false, problem: `must be one of ${values.join(', ')}` };
  };
}

export function redisUrl(raw: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, problem: 'must be a URL such as redis://localhost:6379 or rediss://:password@host:port' };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return { ok: false, problem: `must start with redis:// or rediss:// (got ${url.protocol}//)` };
  }
  if (!url.hostname) return { ok: false, problem: 'must name a host' };
  return { ok: true, value: raw.trim() };
}

export function keyPrefix(raw: string): Parsed<string> {
  // Braces would add a second hash tag and break the one-slot-per-room layout.
  if (/[{}\s]/.test(raw) || raw.length > 64) return { ok: false, problem: 'must be at most 64 characters without braces or spaces' };
  return { ok: true, value: raw };
}

export function origins(raw: string): Parsed<string[]> {
  const list = raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of list) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return { ok: false, problem: `has ${JSON.stringify(origin)}, which is not an origin like https://app.example.com` };
    }
    if (url.origin !== origin.replace(/\/$/, '')) {
      return { ok: false, problem: `has ${JSON.stringify(origin)}: give scheme://host[:port] only, no path` };
    }
  }
  return list.length > 0 ? { ok: true, value: list.map((o) => o.replace(/\/$/, '')) } : { ok: false, problem: 'is empty' };
}

export function secret(raw: string): Parsed<string> {
  // HS256 keys shorter than the hash output are brute-forceable.
  return raw.length >= 32
    ? { ok: true, value: raw }
    : { ok: false, problem: 'must be at least 32 characters (use `openssl rand -hex 32`)' };
}
