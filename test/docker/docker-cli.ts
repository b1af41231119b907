import { execFile } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requireExecutable } from '../fixtures/executable.ts';

/** The repository root: the build context of the Dockerfile and the home of docker-compose.yml. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The images the tests run. scripts/test.sh exports locally built stand-ins (Docker Hub is out
 * of reach in CI); with a registry in reach, the public defaults work the same.
 */
export const IMAGES = {
  node: process.env['NODE_IMAGE'] || 'node:24-bookworm-slim',
  redis: process.env['REDIS_IMAGE'] || 'redis:7-alpine',
  haproxy: process.env['HAPROXY_IMAGE'] || 'haproxy:2.8-alpine',
};

/** Tag of the signaling image the tests build; docker's layer cache makes a rebuild cheap. */
export const APP_IMAGE = 'webrtc-signaling-cluster:test';
/** Label on every container the tests start, so scripts/test.sh can remove leftovers. */
export const TEST_LABEL = 'webrtc-signaling-test';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; resolves with its exit code and output (never rejects on exit code). */
export function run(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        cwd: opts.cwd ?? ROOT,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${command} ${args.join(' ')} failed to run: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** Runs docker and returns stdout, throwing with stderr when it fails. */
export async function docker(args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await run(dockerPath(), args, timeoutMs === undefined ? {} : { timeoutMs });
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited with ${result.code}:\n${result.stderr}${result.stdout}`);
  return result.stdout.trim();
}

let cachedDocker: string | undefined;
export function dockerPath(): string {
  cachedDocker ??= requireExecutable('docker', 'docker.io');
  return cachedDocker;
}

/**
 * Fails the suite at once, with what to do, when no engine answers: a docker test that
 * skipped without one would look exactly like one that passed.
 */
export async function requireEngine(): Promise<void> {
  const result = await run(dockerPath(), ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 15_000 });
  if (result.code !== 0) {
    throw new Error(
      `No container engine answers${process.env['DOCKER_HOST'] ? ` at DOCKER_HOST=${process.env['DOCKER_HOST']}` : ''}: ` +
        `run the docker tests through \`npm test\` (it starts dockerd as root), or start Docker yourself.\n${result.stderr}`,
    );
  }
}

/** Proxy settings of this environment as build args (docker hands these predefined args to RUN). */
export function proxyBuildArgs(): string[] {
  const names = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];
  return names.flatMap((name) => (process.env[name] ? ['--build-arg', `${name}=${process.env[name]}`] : []));
}

/** docker build of the repository's Dockerfile on IMAGES.node; cached layers make a second build take seconds. */
export async function buildAppImage(): Promise<string> {
  await docker(['build', '-q', '--build-arg', `NODE_IMAGE=${IMAGES.node}`, ...proxyBuildArgs(), '-t', APP_IMAGE, ROOT], 600_000);
  return APP_IMAGE;
}

/** Debian's docker-compose (1.29) or Docker's compose plugin (v2), whichever is here. */
export function composeCommand(): string[] {
  try {
    return [requireExecutable('docker-compose', 'docker-compose')];
  } catch (missing) {
    const plugin = spawnSync(dockerPath(), ['compose', 'version'], { encoding: 'utf8' });
    if (plugin.status === 0) return [dockerPath(), 'compose'];
    throw missing;
  }
}
