/**
 * Configuration of the endpoints that speak other libraries' protocols: PeerJS (the server
 * protocol of npm `peer`) and y-webrtc's signaling. Read beside the rest of the config and
 * validated at start like it (README, Configuration).
 */

import type { Parsed } from './env-parsers.ts';
import { boolean, integer } from './env-parsers.ts';

export interface PeerJsConfig {
  /** On: PEERJS=true, or PEERJS unset and no TOKEN_SECRET. */
  enabled: boolean;
  /** Why it is on or off, for the start log. */
  reason: string;
  /** PEERJS_PATHS, default "/,/peerjs": base paths, each ending with "/" (WebSocket at `{base}peerjs`). */
  bases: string[];
  /** PEERJS_KEY, default "peerjs": the only key accepted. */
  key: string;
  /** PEERJS_DISCOVERY, default false: GET {base}{key}/peers lists connected ids (else 401). */
  discovery: boolean;
  /** PEERJS_ALIVE_TIMEOUT_MS, default 60000: a socket silent this long (no HEARTBEAT or other frame) is closed. */
  aliveTimeoutMs: number;
  /** PEERJS_EXPIRE_TIMEOUT_MS, default 5000: how long a message for an id not connected waits before EXPIRE. */
  expireTimeoutMs: number;
}

export interface YWebrtcConfig {
  /** On: YWEBRTC=true, or YWEBRTC unset and no TOKEN_SECRET. */
  enabled: boolean;
  reason: string;
  /** YWEBRTC_PATHS, default "/y-webrtc": WebSocket paths. */
  paths: string[];
}

export interface ThirdPartyConfig {
  peerjs: PeerJsConfig;
  ywebrtc: YWebrtcConfig;
}

type Env = Record<string, string | undefined>;

/** Paths our own endpoints use: a PeerJS or y-webrtc path must not shadow them. */
const RESERVED = ['/signaling', '/video_chat/signaling', '/healthz', '/readyz', '/metrics'];

function pathList(trailingSlash: boolean) {
  return (raw: string): Parsed<string[]> => {
    const list = raw
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (list.length === 0) return { ok: false, problem: 'is empty' };
    for (const path of list) {
      if (!path.startsWith('/') || /[?#\s]/.test(path) || path.length > 200) {
        return {
          ok: false,
          problem: `has ${JSON.stringify(path)}: give absolute paths such as /peerjs (no query, no spaces), comma-separated`,
        };
      }
    }
    const normalized = list.map((p) => (trailingSlash && !p.endsWith('/') ? `${p}/` : p));
    return { ok: true, value: [...new Set(normalized)] };
  };
}

function enabledBy(env: Env, name: string, tokenSecret: string | undefined, problems: string[]): { enabled: boolean; reason: string } {
  const raw = env[name];
  if (raw !== undefined && raw !== '') {
    const parsed = boolean(raw);
    if (!parsed.ok) {
      problems.push(`${name}=${JSON.stringify(raw.slice(0, 80))} ${parsed.problem}`);
      return { enabled: false, reason: `${name} is malformed` };
    }
    return { enabled: parsed.value, reason: `${name}=${String(parsed.value)}` };
  }
  // Their clients carry none of our join tokens: a deployer who asked for tokens gets them off.
  if (tokenSecret !== undefined)
    return { enabled: false, reason: `TOKEN_SECRET is set and these clients cannot carry join tokens; set ${name}=true to open it anyway` };
  return { enabled: true, reason: 'default (no TOKEN_SECRET)' };
}

export function readThirdPartyConfig(env: Env, problems: string[], tokenSecret: string | undefined): ThirdPartyConfig {
  function read<T>(name: string, parse: (raw: string) => Parsed<T>, fallback: T): T {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = parse(raw);
    if (parsed.ok) return parsed.value;
    problems.push(`${name}=${JSON.stringify(raw.slice(0, 80))} ${parsed.problem}`);
    return fallback;
  }
  const peerjs: PeerJsConfig = {
    ...enabledBy(env, 'PEERJS', tokenSecret, problems),
    bases: read('PEERJS_PATHS', pathList(true), ['/', '/peerjs/']),
    key: read(
      'PEERJS_KEY',
      (raw) =>
        /^[^/?#\s]{1,64}$/.test(raw)
          ? { ok: true, value: raw }
          : { ok: false, problem: 'must be 1 to 64 characters without /, ?, # or spaces' },
      'peerjs',
    ),
    discovery: read('PEERJS_DISCOVERY', boolean, false),
    aliveTimeoutMs: read('PEERJS_ALIVE_TIMEOUT_MS', integer(1000, 3_600_000), 60_000),
    expireTimeoutMs: read('PEERJS_EXPIRE_TIMEOUT_MS', integer(100, 600_000), 5000),
  };
  const ywebrtc: YWebrtcConfig = {
    ...enabledBy(env, 'YWEBRTC', tokenSecret, problems),
    paths: read('YWEBRTC_PATHS', pathList(false), ['/y-webrtc']),
  };
  const taken = new Map<string, string>(RESERVED.map((p) => [p, 'a built-in endpoint']));
  const claim = (path: string, by: string): void => {
    const owner = taken.get(path);
    if (owner) problems.push(`${by} uses ${path}, which is ${owner} already: choose another path`);
    else taken.set(path, by);
  };
  if (peerjs.enabled) for (const base of peerjs.bases) claim(peerJsSocketPath(base), 'PEERJS_PATHS');
  if (ywebrtc.enabled) for (const path of ywebrtc.paths) claim(path, 'YWEBRTC_PATHS');
  return { peerjs, ywebrtc };
}

/** The WebSocket path of a PeerJS base (as npm `peer` builds it: base, "/" if missing, "peerjs"). */
export function peerJsSocketPath(base: string): string {
  return `${base}peerjs`;
}

/** Fields for the start log line: which protocol endpoints are on, where, and why. */
export function describeThirdParty(config: ThirdPartyConfig): { peerjs: string; ywebrtc: string } {
  const { peerjs, ywebrtc } = config;
  return {
    peerjs: peerjs.enabled ? `on at ${peerjs.bases.map(peerJsSocketPath).join(', ')} (${peerjs.reason})` : `off (${peerjs.reason})`,
    ywebrtc: ywebrtc.enabled ? `on at ${ywebrtc.paths.join(', ')} (${ywebrtc.reason})` : `off (${ywebrtc.reason})`,
  };
}
