/**
 * ICE server settings (STUN_URLS, TURN_URLS, TURN_SECRET, TURN_TTL, ICE_SERVERS), validated at
 * start. A malformed URL would not fail here later but in every browser: RTCPeerConnection
 * throws on it, so no call could even start. Hence the strict checks and messages naming the
 * variable.
 */
import type { IceServer } from '../protocol/messages.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { integer, secret } from '../config/env-parsers.ts';

export interface IceConfig {
  /** STUN_URLS: stun:/stuns: URLs, sent as one RTCIceServer without credentials. */
  stunUrls: string[];
  /** TURN_URLS: turn:/turns: URLs, sent with credentials minted from TURN_SECRET. */
  turnUrls: string[];
  /** TURN_SECRET: coturn's static-auth-secret (use-auth-secret). */
  turnSecret: string | undefined;
  /** TURN_TTL: seconds a minted credential stays valid. */
  turnTtl: number;
  /** ICE_SERVERS: RTCIceServer objects sent as they are (a managed provider, fixed credentials). */
  staticServers: IceServer[];
}

type Env = Record<string, string | undefined>;

// RFC 7064 / 7065: scheme, host (name, IPv4 or [IPv6]), optional port; TURN may add ?transport.
const HOST_PORT = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?`;
const STUN_URL = new RegExp(`^stuns?:${HOST_PORT}$`);
const TURN_URL = new RegExp(`^turns?:${HOST_PORT}(?:\\?transport=(?:udp|tcp))?$`);
/** At least a minute: clients refresh at 80 % of the TTL, and must not hammer the server. */
const MIN_TURN_TTL_SECONDS = 60;
/** At most a week: a leaked credential stops working within it. */
const MAX_TURN_TTL_SECONDS = 7 * 24 * 3600;

const EXAMPLES = { stun: 'stun:stun.example.org:3478', turn: 'turn:turn.example.org:3478?transport=udp' } as const;

/** Why `url` is not a usable `kind` URL, or undefined when it is. */
export function iceUrlProblem(url: string, kind: 'stun' | 'turn' | 'any'): string | undefined {
  const shown = JSON.stringify(url.slice(0, 80));
  const isStun = STUN_URL.exec(url);
  const isTurn = TURN_URL.exec(url);
  const match = kind === 'stun' ? isStun : kind === 'turn' ? isTurn : (isStun ?? isTurn);
  if (match === null) {
    const like = kind === 'any' ? `${EXAMPLES.stun} or ${EXAMPLES.turn}` : EXAMPLES[kind];
    return `has ${shown}, which is not a ${kind === 'any' ? 'STUN or TURN' : kind.toUpperCase()} URL like ${like}`;
  }
  const port = match[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `has ${shown}: the port must be from 1 to 65535`;
  return undefined;
}

function urlList(name: string, raw: string, kind: 'stun' | 'turn', problems: string[]): string[] {
  const urls = raw
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) problems.push(`${name} is empty`);
  for (const url of urls) {
    const problem = iceUrlProblem(url, kind);
    if (problem) problems.push(`${name} ${problem}`);
  }
  return urls;
}

const SERVER_FIELDS = new Set(['urls', 'username', 'credential']);

/** Validates ICE_SERVERS. Problems never quote credentials: this text goes to the log drain. */
export function parseIceServers(raw: string, problems: string[]): IceServer[] {
  const name = 'ICE_SERVERS';
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    problems.push(`${name} is not valid JSON: give an array such as [{"urls":"stun:stun.example.org"}]`);
    return [];
  }
  if (!Array.isArray(value)) {
    problems.push(`${name} must be a JSON array of RTCIceServer objects`);
    return [];
  }
  const servers: IceServer[] = [];
  value.forEach((entry: unknown, i) => {
    const at = `${name}[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at} must be an object with "urls"`);
      return;
    }
    const fields = entry as Record<string, unknown>;
    // "url" is the pre-2013 spelling; browsers ignore it silently, so the server would be lost.
    const unknown = Object.keys(fields).filter((key) => !SERVER_FIELDS.has(key));
    if (unknown.length > 0)
      problems.push(`${at} has unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}: use urls, username, credential`);
    const urls = fields['urls'];
    const list = typeof urls === 'string' ? [urls] : Array.isArray(urls) ? urls : undefined;
    if (list === undefined || list.length === 0 || !list.every((u): u is string => typeof u === 'string')) {
      problems.push(`${at}.urls must be a URL string or a non-empty array of them`);
      return;
    }
    for (const url of list) {
      const problem = iceUrlProblem(url, 'any');
      if (problem) problems.push(`${at}.urls ${problem}`);
    }
    const { username, credential } = fields;
    if (username !== undefined && typeof username !== 'string') problems.push(`${at}.username must be a string`);
    if (credential !== undefined && typeof credential !== 'string') problems.push(`${at}.credential must be a string`);
    // Browsers refuse a TURN server without both (InvalidAccessError), failing the whole call.
    if (list.some((u) => u.startsWith('turn')) && (typeof username !== 'string' || typeof credential !== 'string')) {
      problems.push(`${at} has TURN URLs, so it needs "username" and "credential"`);
    }
    const server: IceServer = { urls: typeof urls === 'string' ? urls : [...list] };
    if (typeof username === 'string') server.username = username;
    if (typeof credential === 'string') server.credential = credential;
    servers.push(server);
  });
  return servers;
}

/**
 * Reads the ICE variables, adding a line to `problems` for each bad one (config.ts throws
 * them together with the rest). STUN_URLS, TURN_URLS and ICE_SERVERS may be combined; the
 * servers are sent in that order.
 */
export function readIceConfig(env: Env, problems: string[]): IceConfig {
  const given = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const stun = given('STUN_URLS');
  const turn = given('TURN_URLS');
  const rawSecret = given('TURN_SECRET');
  const rawTtl = given('TURN_TTL');
  const rawServers = given('ICE_SERVERS');
  const config: IceConfig = {
    stunUrls: stun === undefined ? [] : urlList('STUN_URLS', stun, 'stun', problems),
    turnUrls: turn === undefined ? [] : urlList('TURN_URLS', turn, 'turn', problems),
    turnSecret: undefined,
    turnTtl: DEFAULTS.turnTtlSeconds,
    staticServers: rawServers === undefined ? [] : parseIceServers(rawServers, problems),
  };
  if (rawSecret !== undefined) {
    // Every client sees a username and its HMAC, so a weak secret falls to an offline search.
    const parsed = secret(rawSecret);
    if (parsed.ok) config.turnSecret = parsed.value;
    else problems.push(`TURN_SECRET=(${rawSecret.length} characters, not shown) ${parsed.problem}`);
  }
  if (rawTtl !== undefined) {
    const parsed = integer(MIN_TURN_TTL_SECONDS, MAX_TURN_TTL_SECONDS)(rawTtl);
    if (parsed.ok) config.turnTtl = parsed.value;
    else problems.push(`TURN_TTL=${JSON.stringify(rawTtl.slice(0, 80))} ${parsed.problem} (seconds)`);
  }
  if (turn !== undefined && rawSecret === undefined) {
    problems.push(
      "TURN_URLS is set but TURN_SECRET is not: set TURN_SECRET to coturn's static-auth-secret, or give TURN servers with fixed credentials in ICE_SERVERS",
    );
  }
  if (rawSecret !== undefined && turn === undefined) {
    problems.push('TURN_SECRET is set but TURN_URLS is not: list the TURN server URLs (e.g. turn:turn.example.org:3478)');
  }
  if (rawTtl !== undefined && rawSecret === undefined)
    problems.push('TURN_TTL is set but TURN_SECRET is not: it only applies to minted TURN credentials');
  return config;
}
