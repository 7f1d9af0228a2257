/** Drives the cdktf CLI and Terraform for the suite, with the offline provider mirror. */
import * as fs from 'fs';
import * as path from 'path';
import { E2E } from './config';
import { must, ROOT, run, RunResult } from './support';

export interface Variant {
  /** Folder under the work dir for this deployment's synth output and state. */
  readonly name: string;
  /** Extra environment: the e2e app reads DWI_E2E_* and Terraform reads TF_VAR_*. */
  readonly env?: NodeJS.ProcessEnv;
  /** The cdktf app that synthesizes this deployment, relative to the repository. @default 'e2e/app.ts' */
  readonly app?: string;
}

const CDKTF = path.join(ROOT, 'node_modules', '.bin', 'cdktf');

function environment(variant: Variant): NodeJS.ProcessEnv {
  const vars: Record<string, string> = Object.fromEntries(Object.entries(E2E.passwords).map(([k, v]) => [`TF_VAR_${k}`, v]));
  // The HTTPS load balancer's certificate: the test CA's server certificate for 127.0.0.1.
  const tls = path.join(process.env.DWI_CACHE ?? '/var/cache/cdktf-distributed-web', 'docker-tls', 'server');
  if (fs.existsSync(path.join(tls, 'cert.pem'))) {
    vars.TF_VAR_tls_certificate_pem = fs.readFileSync(path.join(tls, 'cert.pem'), 'utf8') + fs.readFileSync(path.join(tls, 'key.pem'), 'utf8');
  }
  return {
    ...process.env,
    CHECKPOINT_DISABLE: '1',
    CI: '1',
    // Provider 4.x builds images with buildx by default, and its buildx path talks to
    // DOCKER_HOST instead of the provider's `host` (the remote test caught it). 3.6.2, the
    // version the bindings pin, has only the API builder: this makes 4.x build the same way.
    DOCKER_BUILDKIT: '0',
    DWI_E2E_VARIANT: variant.name,
    ...vars,
    ...variant.env,
  };
}

export const outDir = (variant: Variant) => path.join(E2E.workDir, variant.name, 'cdktf.out');
export const stackDir = (variant: Variant) => path.join(outDir(variant), 'stacks', E2E.stackName);

function cdktf(command: string, variant: Variant, extra: string[] = []): Promise<RunResult> {
  fs.mkdirSync(path.join(E2E.workDir, variant.name), { recursive: true });
  return run(CDKTF, [command, E2E.stackName, '--auto-approve', '--skip-provider-lock', '--app', `npx ts-node --transpile-only ${variant.app ?? 'e2e/app.ts'}`, '--output', outDir(variant), ...extra], {
    cwd: ROOT,
    env: environment(variant),
    timeoutMs: 900_000,
  });
}

function check(what: string, result: RunResult): RunResult {
  if (result.code !== 0) {
    // Terraform's own error blocks, wherever they are in the (long) output, then the tail.
    const plain = (result.stdout + '\n' + result.stderr).replace(/\x1b\[[0-9;]*m/g, '');
    const errors = plain.split('\n').filter((line) => /Error|error:|│/.test(line)).slice(0, 60).join('\n');
    throw new Error(`cdktf ${what} failed (exit ${result.code}, ${result.seconds}s):\n${errors}\n--- tail ---\n${plain.slice(-3000)}`);
  }
  return result;
}

export const deploy = async (variant: Variant) => check('deploy', await cdktf('deploy', variant));
export const destroy = async (variant: Variant) => check('destroy', await cdktf('destroy', variant));
/** Destroy that reports instead of throwing: for clean-up after a failure. */
export const tryDestroy = (variant: Variant) => (fs.existsSync(stackDir(variant)) ? cdktf('destroy', variant) : Promise.resolve(undefined));

/** `terraform plan -detailed-exitcode` on the synthesized stack: 0 no changes, 2 changes. */
export async function plan(variant: Variant): Promise<RunResult> {
  return run(process.env.TERRAFORM_BINARY_NAME ?? 'terraform', ['plan', '-detailed-exitcode', '-input=false', '-no-color', '-lock-timeout=30s'], {
    cwd: stackDir(variant),
    env: environment(variant),
    timeoutMs: 300_000,
  });
}

/** The synthesized Terraform JSON of a variant. */
export function synthesized(variant: Variant): any {
  return JSON.parse(fs.readFileSync(path.join(stackDir(variant), 'cdk.tf.json'), 'utf8'));
}

export { must };
