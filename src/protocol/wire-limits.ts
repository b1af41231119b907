import type { WireLimits } from '../../protocol/wire.js';

/**
 * The wire's limits (protocol/wire.d.ts `WireLimits`), the server's copy: typed by the wire,
 * so a value that differs from the one the client package checks does not compile.
 */
export const WIRE_LIMITS: WireLimits = { maxNameChars: 64, maxMetadataBytes: 1024, maxJsonDepth: 32 };
