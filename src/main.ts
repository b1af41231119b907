import { ConfigError, loadConfig } from './config/config.ts';
import { describeThirdParty } from './config/third-party-config.ts';
import { createLogger } from './log/logger.ts';
import { CloseCode } from './protocol/error-codes.ts';
import { createSignalingServer } from './server.ts';

/** sysexits.h EX_CONFIG: a supervisor that knows it stops restarting a misconfigured process. */
const EXIT_CONFIG = 78;
/** Heroku kills a dyno 30 s after SIGTERM: exit on our own first, whatever the drain left. */
const DRAIN_DEADLINE_MS = 25_000;

/** Process entry: validate config, start, and drain on SIGTERM (Heroku allows 30 s). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nFix the variables above and start again.\n`);
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, { node: config.nodeId });
  const server = await createSignalingServer({ config, logger });
  const port = await server.listen();
  const backend = config.redisCluster ? 'redis-cluster' : config.redisUrl ? 'redis' : 'embedded';
  // Which third-party endpoints are on, where, and why (TOKEN_SECRET turns them off by default).
  logger.info({ port, host: config.host, backend, ...describeThirdParty(config.thirdParty) }, 'listening');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining: closing sockets with 1012 so clients reconnect elsewhere');
    const deadline = setTimeout(() => process.exit(1), DRAIN_DEADLINE_MS);
    deadline.unref();
    server
      .close(CloseCode.ServiceRestart)
      .then(() => {
        logger.info('drained; exiting');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'drain failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
