import { createHash } from 'node:crypto';
import type { HoldOutcome, LeaseState } from '../../cluster/backend.ts';
import * as lua from './scripts.ts';

/**
 * The Lua scripts as the store runs them: each with its SHA (EVALSHA first, the source on
 * NOSCRIPT), the publishing ones in both bus variants, and what their numeric replies mean.
 */
export type Script = { source: string; sha: string };
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
export const SCRIPTS = {
  register: script(lua.REGISTER),
  suspend: script(lua.SUSPEND),
  resume: script(lua.RESUME),
  renewLease: script(lua.RENEW_LEASE),
  deadNodes: script(lua.DEAD_NODES),
};

/** The scripts that publish, in the variant for the bus in use (PUBLISH or SPUBLISH). */
export function publishingScripts(publish: lua.PublishCommand) {
  return {
    hold: script(publish === 'SPUBLISH' ? lua.HOLD_SHARDED : lua.HOLD),
    unregister: script(lua.unregisterScript(publish)),
    remove: script(lua.removeScript(publish)),
    expire: script(lua.expireScript(publish)),
    reregister: script(lua.reregisterScript(publish)),
    sweepMember: script(lua.sweepMemberScript(publish)),
  };
}
export const PLAIN = publishingScripts('PUBLISH');
export const SHARDED = publishingScripts('SPUBLISH');

export const HOLD_OUTCOMES: Record<number, HoldOutcome> = { 1: 'delivered', 0: 'held', [-1]: 'not-found', [-2]: 'full' };
export const REREGISTER_STATUS = { 1: 'kept', 2: 'renumbered' } as const;
export const LEASE_STATES: Record<number, LeaseState> = { 1: 'live', 0: 'lapsed', [-1]: 'missing' };
