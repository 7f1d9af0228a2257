/**
 * Small helpers shared by the constructs: image resources (one per name and stack),
 * file uploads, labels and logging. Internal: not exported from the package index.
 */
import { Image } from '@cdktf/provider-docker/lib/image';
import { ContainerLabels, ContainerUpload } from '@cdktf/provider-docker/lib/container';
import { Token, TerraformStack } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import { ResolvedHealthCheck, dockerHealthcheck, healthcheckHash } from './health-check';

/** Label keys set on every container, network and volume the library creates. */
export const LABELS = {
  project: 'io.cdktf-distributed-web.project',
  role: 'io.cdktf-distributed-web.role',
  healthcheck: 'io.cdktf-distributed-web.healthcheck-hash',
} as const;

const IMAGES_ID = 'DistributedWebImages';

/**
 * The `docker_image` resource for `name`, created once per stack.
 *
 * Two `docker_image` resources with the same name in one stack fight each other (one's
 * destroy removes the other's image), so every construct asks here. `keep_locally` is
 * on: a destroy must not delete an image that other stacks or the user still use.
 */
export function imageFor(scope: IConstruct, name: string): Image {
  const stack = TerraformStack.of(scope);
  const holder = (stack.node.tryFindChild(IMAGES_ID) as Construct | undefined) ?? new Construct(stack, IMAGES_ID);
  const id = name.replace(/[^A-Za-z0-9_-]/g, '_');
  const existing = holder.node.tryFindChild(id);
  if (existing) return existing as Image;
  return new Image(holder, id, { name, keepLocally: true });
}

/**
 * A file to upload into a container, world-readable.
 *
 * Rendered text is sent base64-encoded: Terraform reads every JSON string as a template,
 * so `${…}` or `%{…}` in a config file or script would otherwise be interpolated. A
 * value that is a token (a secret from a variable, say) is passed as it is.
 */
export function fileUpload(file: string, content: string | Buffer, executable = false): ContainerUpload {
  // `executable` alone gives mode 0744, executable by root only; the database images run
  // their init scripts as the `mysql` user, so scripts get 0755.
  const permissions = executable ? '0755' : '0644';
  if (typeof content === 'string' && Token.isUnresolved(content)) {
    return { file, content, permissions };
  }
  return { file, contentBase64: base64(content), permissions };
}

/** Base64 of a string's UTF-8 bytes, or of a buffer. */
export function base64(content: string | Buffer): string {
  return Buffer.from(content).toString('base64');
}

/** Labels in the provider's list form. */
export function labelList(labels: Record<string, string>): ContainerLabels[] {
  return Object.entries(labels).map(([label, value]) => ({ label, value }));
}

/**
 * What every container of the library shares: its labels (with the hash of its health
 * check, so a changed check replaces it), the health check itself, a restart policy,
 * bounded logs and `no-new-privileges`.
 */
export function containerBasics(project: string, role: string, check?: ResolvedHealthCheck) {
  return {
    healthcheck: check && dockerHealthcheck(check),
    labels: labelList({
      [LABELS.project]: project,
      [LABELS.role]: role,
      ...(check ? { [LABELS.healthcheck]: healthcheckHash(check) } : {}),
    }),
    restart: 'unless-stopped',
    securityOpts: ['no-new-privileges:true'],
    ...LOGGING,
  };
}

/**
 * Logging set explicitly: bounded json-file logs. Left unset, options the daemon adds
 * by default can show as a diff and replace the container (provider issues #473, #873).
 */
export const LOGGING = {
  logDriver: 'json-file',
  logOpts: { 'max-size': '10m', 'max-file': '3' },
};
