/**
 * The remote-host path: the same example stack deployed through a TLS-protected
 * `tcp://` Docker endpoint (dockerd also listens on 127.0.0.1:2376 with a CA and
 * certificates made for the test), the provider given `host` and the certificate
 * material through the example's variables. Nothing in the synthesized JSON may point at
 * files of the deploying machine but the application's build context, which the
 * provider reads and streams to the remote daemon.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, destroy, synthesized, tryDestroy, Variant } from './cdktf';
import { removeLeftovers } from './cleanup';
import { containersOf, record, ROOT, run, sequence } from './support';

const name = 'dwie2er';
const port = 18090;
const tls = path.join(process.env.DWI_CACHE ?? '/var/cache/cdktf-distributed-web', 'docker-tls', 'client');
const material = (file: string) => fs.readFileSync(path.join(tls, file), 'utf8');

const remote: Variant = {
  name: 'remote',
  env: {
    DWI_E2E_NAME: name,
    DWI_E2E_PORT: String(port),
    TF_VAR_docker_host: 'tcp://127.0.0.1:2376',
    TF_VAR_docker_ca_material: material('ca.pem'),
    TF_VAR_docker_cert_material: material('cert.pem'),
    TF_VAR_docker_key_material: material('key.pem'),
    // Nothing may silently fall back to the local socket.
    DOCKER_HOST: 'tcp://127.0.0.1:1',
    DOCKER_CONTEXT: '',
  },
};

beforeAll(async () => {
  await removeLeftovers(name);
}, 300_000);

afterAll(async () => {
  await tryDestroy(remote);
  await removeLeftovers(name);
}, 900_000);

describe('9. deploy to a remote Docker host over TLS', () => {
  it('refuses a client without the certificate', async () => {
    const plain = await run('docker', ['-H', 'tcp://127.0.0.1:2376', 'info'], { timeoutMs: 20_000 });
    expect(plain.code).not.toBe(0);
  });

  it('deploys the example stack through tcp:// with TLS, and it serves', async () => {
    const result = await deploy(remote);
    record('remote_deploy_seconds', result.seconds);
    expect(await containersOf(name)).toEqual(
      ['db-primary', 'db-read', 'db-replica-1', 'lb', 'web-1', 'web-1-app', 'web-2', 'web-2-app', 'web-3', 'web-3-app'].map((c) => `${name}-${c}`),
    );
    const answers = await sequence(`http://127.0.0.1:${port}/api/whoami`, 6);
    expect(new Set(answers)).toEqual(new Set(['web-1', 'web-2', 'web-3']));
  });

  it('synthesizes JSON that depends on no file of the deploying machine but the build context', () => {
    const json = synthesized(remote);
    expect(json.provider.docker[0]).toMatchObject({ host: '${var.docker_host}', cert_material: '${var.docker_cert_material}' });
    const text = JSON.stringify(json.resource);
    expect(text).not.toMatch(/"host_path"|"cert_path"|"type":"bind"/);
    const builds = Object.values(json.resource.docker_image as Record<string, any>).filter((i) => i.build);
    // Every string under a folder of the deploying machine (wherever this checkout lives,
    // the home folder, the temporary folder), found by value rather than by a list of
    // prefixes that would depend on where CI clones the repository.
    const machineRoots = [ROOT, os.homedir(), os.tmpdir()].map((p) => `/${p.split('/')[1]}/`);
    const localPaths = stringsOf(json.resource).filter((s) => machineRoots.some((root) => s.startsWith(root)));
    expect(builds.length).toBeGreaterThan(0);
    expect(new Set(localPaths)).toEqual(new Set(builds.flatMap((b) => [b.build.context, b.build.dockerfile])));
  });

  it('destroys cleanly through the same endpoint', async () => {
    await destroy(remote);
    expect(await containersOf(name)).toEqual([]);
  });
});

/** Every string value in a JSON document. */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}
