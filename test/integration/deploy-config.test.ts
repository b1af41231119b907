import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { requireExecutable } from '../fixtures/executable.ts';
import { HAPROXY_CFG } from '../fixtures/haproxy.ts';
import { checkAppJson } from '../fixtures/heroku-app-json.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  engines?: { node?: string };
};

/** Variables src/config/config.ts reads: app.json may describe only these. */
function configVariables(): string[] {
  return [...read('src/config/config.ts').matchAll(/read(?:<[^>]*>)?\('([A-Z0-9_]+)'/g)].map((m) => m[1] as string);
}

/** Packages the compiled server imports at run time (type-only imports vanish in the build). */
function runtimeImports(dir = join(ROOT, 'src')): Set<string> {
  const found = new Set<string>();
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      for (const name of runtimeImports(path)) found.add(name);
      continue;
    }
    if (!entry.endsWith('.ts')) continue;
    for (const m of readFileSync(path, 'utf8').matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^'./][^']*)'/gms)) {
      const spec = m[1] as string;
      if (spec.startsWith('node:')) continue;
      found.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return found;
}

/** Debian's docker-compose (v1) or Docker's compose plugin (v2), whichever is here. */
function composeCommand(): string[] {
  try {
    return [requireExecutable('docker-compose', 'docker-compose')];
  } catch (missing) {
    const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (plugin.status === 0) return ['docker', 'compose'];
    throw missing;
  }
}

describe('Heroku', () => {
  const app = JSON.parse(read('app.json')) as Record<string, unknown>;

  it('app.json has every field Heroku reads, and only variables the server knows', () => {
    expect(checkAppJson(app, { knownVariables: configVariables() })).toEqual([]);
  });

  it('Procfile runs npm start, which runs the compiled server; the build script compiles it', () => {
    expect(read('Procfile').trim()).toBe('web: npm start');
    expect(pkg.scripts['start']).toBe('node dist/server/main.js');
    expect(pkg.scripts['build']).toMatch(/\btsc\b/);
    expect(pkg.engines?.node).toMatch(/^>=\s*2[2-9]/);
  });

  it('every package the server imports is a dependency (Heroku prunes devDependencies)', () => {
    const missing = [...runtimeImports()].filter((name) => !(name in pkg.dependencies));
    expect(missing).toEqual([]);
  });
});

describe('Docker', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM\s/m).slice(1);
  const runtime = stages.at(-1) ?? '';

  it('builds in one stage and runs in a second with production dependencies only, as non-root', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]).toMatch(/RUN npm ci\b/);
    expect(stages[0]).toMatch(/RUN npm run build\b/);
    expect(runtime).toMatch(/RUN npm ci --omit=dev --ignore-scripts\b/);
    expect(runtime).toMatch(/COPY --from=\S+ \/app\/dist \.\/dist/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^ENV [^\n]*PORT=3000/m);
    expect(runtime).toMatch(/^EXPOSE 3000$/m);
    expect(runtime).toMatch(/^HEALTHCHECK [^]*\/healthz/m);
  });

  it('starts exactly what npm start starts', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(runtime)?.[1];
    expect(cmd && (JSON.parse(cmd) as string[]).join(' ')).toBe(pkg.scripts['start']);
  });

  it('builds FROM the NODE_IMAGE build argument, the public Node 24 image by default', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms).toEqual(['${NODE_IMAGE}', '${NODE_IMAGE}']);
  });

  it('every image in docker-compose.yml is overridable by the environment, with the public image as default', () => {
    const raw = parseYaml(read('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { image?: string; build?: { args?: Record<string, string> } }>;
    };
    const defaults: Record<string, string> = {};
    for (const [name, s] of Object.entries(raw.services)) {
      const m = /^\$\{([A-Z_]+):-([^}]+)\}$/.exec(s.image ?? '');
      expect(m, `${name}: image ${s.image}`).not.toBeNull();
      defaults[(m as RegExpExecArray)[1] as string] = (m as RegExpExecArray)[2] as string;
    }
    expect(defaults).toEqual({
      SIGNALING_IMAGE: 'webrtc-signaling-cluster:local',
      REDIS_IMAGE: 'redis:7-alpine',
      HAPROXY_IMAGE: 'haproxy:2.8-alpine',
      COTURN_IMAGE: 'coturn/coturn:4.6',
    });
    expect(raw.services['signaling-1']?.build?.args?.['NODE_IMAGE']).toBe('${NODE_IMAGE:-node:24-bookworm-slim}');

    // And compose itself substitutes them (the form Compose 1.29 and v2 both read).
    const [command, ...args] = composeCommand();
    const env = {
      ...process.env,
      REDIS_IMAGE: 'mirror.example/redis:7',
      HAPROXY_IMAGE: 'mirror.example/haproxy:2.8',
      NODE_IMAGE: 'mirror.example/node:24',
      SIGNALING_IMAGE: 'mirror.example/sig:1',
      PUBLISH_HOST: '0.0.0.0',
      PUBLISH_PORT: '9999',
    };
    const text = execFileSync(command as string, [...args, '-f', join(ROOT, 'docker-compose.yml'), 'config'], { encoding: 'utf8', env });
    const services = (
      parseYaml(text) as { services: Record<string, { image?: string; build?: { args?: Record<string, string> }; ports?: unknown[] }> }
    ).services;
    expect(services['redis']?.image).toBe('mirror.example/redis:7');
    expect(services['haproxy']?.image).toBe('mirror.example/haproxy:2.8');
    expect(services['signaling-2']?.image).toBe('mirror.example/sig:1');
    expect(services['signaling-2']?.build?.args?.['NODE_IMAGE']).toBe('mirror.example/node:24');
    expect(JSON.stringify(services['haproxy']?.ports)).toMatch(/0\.0\.0\.0[^]*9999/);
  });

  it('docker-compose.yml is valid for docker-compose', () => {
    const [command, ...args] = composeCommand();
    const result = spawnSync(command as string, [...args, '-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('compose runs Redis, three replicas of one image, and haproxy with the shared cfg on one port', () => {
    const [command, ...args] = composeCommand();
    const text = execFileSync(command as string, [...args, '-f', join(ROOT, 'docker-compose.yml'), 'config'], { encoding: 'utf8' });
    type Service = {
      build?: { context?: string };
      image?: string;
      environment?: Record<string, string>;
      ports?: unknown[];
      volumes?: unknown[];
    };
    const services = (parseYaml(text) as { services: Record<string, Service> }).services;
    expect(services['redis']).toBeDefined();
    const replicas = Object.entries(services).filter(([, s]) => s.build);
    expect(replicas).toHaveLength(3);
    expect(new Set(replicas.map(([, s]) => s.image)).size).toBe(1);
    for (const [, s] of replicas) expect(s.environment?.['REDIS_URL']).toBe('redis://redis:6379');

    const lb = services['haproxy'] as Service;
    const lbEnv = lb.environment ?? {};
    const targets = replicas.map(([name, s]) => `${name}:${s.environment?.['PORT'] ?? 3000}`).sort();
    expect([lbEnv['SIGNALING_1'], lbEnv['SIGNALING_2'], lbEnv['SIGNALING_3']].sort()).toEqual(targets);
    expect(JSON.stringify(lb.volumes)).toContain('deploy/haproxy/haproxy.cfg');
    expect(lb.ports).toHaveLength(1);
    const published = JSON.stringify(lb.ports);
    expect(published).toMatch(/8080/);
    expect(lbEnv['LB_BIND']).toBe(':8080');
    // No other service is published: the browser has one way in, through the balancer.
    for (const [name, s] of Object.entries(services)) if (name !== 'haproxy') expect(s.ports ?? []).toEqual([]);

    // The very file, with compose's environment, passes haproxy's own check. Compose's names do
    // not resolve here; the cfg's init-addr lets HAProxy start anyway, as it must in compose.
    const haproxy = requireExecutable('haproxy', 'haproxy');
    const check = spawnSync(haproxy, ['-c', '-f', HAPROXY_CFG], { env: { PATH: process.env['PATH'], ...lbEnv }, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });
});
