/**
 * Application images built from a Dockerfile folder. Internal: not exported from the index.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Image } from '@cdktf/provider-docker/lib/image';
import { TerraformStack } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import { ValidationError } from './validation';

/** What a web server's `app.build` prop says. */
export interface AppBuild {
  readonly context: string;
  readonly dockerfile?: string;
  readonly buildArgs?: { [name: string]: string };
}

const BUILDS_ID = 'DistributedWebAppBuilds';

/**
 * The `docker_image` resource that builds `build`, one per stack and content.
 *
 * Paths are made absolute: provider 3.6.2 resolves a relative context from Terraform's
 * working directory and the Dockerfile from the process's. The content hash of the
 * folder is a trigger and part of the tag, so a changed file rebuilds the image and
 * replaces the containers that run it; an unchanged folder plans nothing.
 */
export function appImageFor(scope: IConstruct, prop: string, build: AppBuild): Image {
  const context = path.resolve(build.context);
  const dockerfile = path.resolve(context, build.dockerfile ?? 'Dockerfile');
  if (!fs.existsSync(context) || !fs.statSync(context).isDirectory()) {
    throw new ValidationError(scope, `'${prop}.context' must be an existing folder, got ${JSON.stringify(build.context)} (resolved to ${context})`);
  }
  if (!fs.existsSync(dockerfile)) {
    throw new ValidationError(scope, `'${prop}.dockerfile' must name a file in the context, got ${JSON.stringify(build.dockerfile ?? 'Dockerfile')} (no ${dockerfile})`);
  }
  const { hash } = hashDirectoryOnce(scope, context);
  const buildArgs = build.buildArgs ?? {};
  const key = createHash('sha256')
    .update(JSON.stringify([hash, path.relative(context, dockerfile), buildArgs]))
    .digest('hex')
    .slice(0, 16);

  const stack = TerraformStack.of(scope);
  const holder = (stack.node.tryFindChild(BUILDS_ID) as Construct | undefined) ?? new Construct(stack, BUILDS_ID);
  const existing = holder.node.tryFindChild(key);
  if (existing) return existing as Image;
  const repository = path.basename(context).toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '') || 'app';
  return new Image(holder, key, {
    name: `dwi-build/${repository}:${key}`,
    buildAttribute: { context, dockerfile, buildArgs, label: { 'io.cdktf-distributed-web.content-hash': hash } },
    triggers: { content_hash: hash },
    keepLocally: false,
  });
}

const HASHES = new WeakMap<TerraformStack, Map<string, { hash: string; files: string[] }>>();

/**
 * {@link hashDirectory} once per stack and folder: every web server of a stack builds from,
 * and serves the static files of, the same folders, which do not change during a synthesis.
 */
export function hashDirectoryOnce(scope: IConstruct, root: string): { hash: string; files: string[] } {
  const stack = TerraformStack.of(scope);
  const cache = HASHES.get(stack) ?? new Map<string, { hash: string; files: string[] }>();
  HASHES.set(stack, cache);
  let result = cache.get(root);
  if (!result) {
    result = hashDirectory(root);
    cache.set(root, result);
  }
  return result;
}

/**
 * Lists the files of a build context (skipping what `.dockerignore` names, in its common
 * simple forms: exact paths, folder names and `*` globs) and hashes their paths and content.
 */
export function hashDirectory(root: string): { hash: string; files: string[] } {
  const ignore = readDockerignore(root);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.name === '.git' || ignore.some((re) => re.test(rel))) continue;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) files.push(rel);
    }
  };
  walk('');
  const digest = createHash('sha256');
  for (const f of files) {
    digest.update(f).update('\0').update(fs.readFileSync(path.join(root, f))).update('\0');
  }
  return { hash: digest.digest('hex'), files };
}

function readDockerignore(root: string): RegExp[] {
  const file = path.join(root, '.dockerignore');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'))
    .map((pattern) => {
      const clean = pattern.replace(/^\.?\//, '').replace(/\/$/, '');
      const body = clean
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')
        .replace(/\[\^\/\]\*\[\^\/\]\*/g, '.*');
      return new RegExp(`^${body}(/.*)?$`);
    });
}
