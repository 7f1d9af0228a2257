/**
 * Synthesizes a stack for property assertions on the Terraform JSON.
 */
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { App, TerraformStack, Testing } from 'cdktf';

export interface Synthesized {
  readonly json: any;
  /** All resources of a type, as objects with their logical id in `__id`. */
  resources(type: string): any[];
  /** The one resource of a type whose `name` is `name`; throws if none or several. */
  named(type: string, name: string): any;
}

/** A stack with the providers configured, as an app would have it. */
export function newStack(): TerraformStack {
  const app: App = Testing.app();
  const stack = new TerraformStack(app, 'test');
  new DockerProvider(stack, 'docker', {});
  new NullProvider(stack, 'null');
  return stack;
}

/** Synthesizes `stack`, running validations like `cdktf synth` does. */
export function synth(stack: TerraformStack): Synthesized {
  const json = JSON.parse(Testing.synth(stack, true));
  const resources = (type: string) =>
    Object.entries(json.resource?.[type] ?? {}).map(([id, body]) => ({ __id: id, ...(body as object) }) as any);
  return {
    json,
    resources,
    named(type: string, name: string) {
      const found = resources(type).filter((r) => r.name === name);
      if (found.length !== 1) {
        throw new Error(`expected one ${type} named ${name}, found ${found.length}: ${resources(type).map((r) => r.name).join(', ')}`);
      }
      return found[0];
    },
  };
}

/** Decodes a container's uploaded file. */
export function uploaded(container: any, file: string): string {
  const upload = (container.upload ?? []).find((u: any) => u.file === file);
  if (!upload) throw new Error(`no upload of ${file}; uploads: ${(container.upload ?? []).map((u: any) => u.file).join(', ')}`);
  return upload.content_base64 !== undefined ? Buffer.from(upload.content_base64, 'base64').toString('utf8') : upload.content;
}

/** A container's labels as a plain object. */
export function labels(container: any): Record<string, string> {
  return Object.fromEntries((container.labels ?? []).map((l: any) => [l.label, l.value]));
}
