/**
 * The Docker Compose baseline of the deploy benchmark: a compose file translated from the
 * bench stack's synthesized Terraform JSON, so it runs the same images with the same
 * rendered configs (read back from each upload's content_base64 and bind-mounted as
 * files), environment, health checks, networks, volumes, labels, logging and ports, and
 * `depends_on: condition: service_healthy` wherever Terraform has a dependency.
 *
 * The readiness gate (a null_resource) has no compose equivalent: the benchmark runs
 * the same check from its own process after `docker-compose up`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PASSWORDS } from './lib';

export interface ComposeProject {
  /** The compose file (JSON, which compose reads as YAML). */
  readonly file: string;
  /** Container names, in the order of the synthesized JSON. */
  readonly containers: string[];
  /** Tags of the images compose builds (removed between runs, like Terraform's destroy does). */
  readonly builtImages: string[];
  /** Names HAProxy knows the web servers by (the readiness gate's expected servers). */
  readonly servers: string[];
  readonly gateUrl: string;
}

type Json = any;

/**
 * The docker_container attributes translated below. `wait`/`wait_timeout` become the wait
 * for health after `up`; anything else the stack starts to use fails loudly here.
 */
const TRANSLATED = [
  '//', 'name', 'hostname', 'image', 'command', 'env', 'networks_advanced', 'ports', 'volumes', 'upload', 'healthcheck',
  'labels', 'restart', 'log_driver', 'log_opts', 'destroy_grace_seconds', 'depends_on', 'capabilities', 'security_opts',
  'wait', 'wait_timeout', 'sysctls',
];

/** `${var.x}` → the value the benchmark passes as TF_VAR_x; `$` escaped for compose. */
function resolveVars(value: string): string {
  const resolved = value.replace(/\$\{var\.([a-z_]+)\}/g, (_, name: keyof typeof PASSWORDS) => {
    if (!(name in PASSWORDS)) throw new Error(`no value for variable ${name}`);
    return PASSWORDS[name];
  });
  if (/\$\{/.test(resolved)) throw new Error(`unresolved reference in ${JSON.stringify(value)}`);
  return resolved.replace(/\$/g, '$$$$');
}

/** `${docker_network.X.id}` → X. */
function reference(value: string, type: string): string {
  const m = new RegExp(`^\\$\\{${type}\\.([^.}]+)\\.[a-z_]+\\}$`).exec(value);
  if (!m) throw new Error(`expected a reference to a ${type}, got ${JSON.stringify(value)}`);
  return m[1];
}

/**
 * Writes `dir/compose.json` and the files it mounts (`dir/files/<container>/<path>`).
 * `imagePrefix` renames built images so they never share a tag with the cdktf stack's.
 */
export function writeCompose(json: Json, dir: string, imagePrefix: string): ComposeProject {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const res = json.resource;
  const images: Record<string, Json> = res.docker_image ?? {};
  const networks: Record<string, Json> = res.docker_network ?? {};
  const containers: Record<string, Json> = res.docker_container ?? {};
  const unsupported = Object.keys(res).filter((t) => !['docker_image', 'docker_network', 'docker_container', 'docker_volume', 'null_resource'].includes(t));
  if (unsupported.length) throw new Error(`no compose translation for ${unsupported.join(', ')}`);

  const nameOf = (id: string) => containers[id].name as string;
  const builtImages: string[] = [];
  const services: Record<string, Json> = {};
  const volumes: Record<string, Json> = {};

  for (const c of Object.values(containers)) {
    const unknown = Object.keys(c).filter((k) => !TRANSLATED.includes(k));
    if (unknown.length) throw new Error(`no compose translation for ${c.name}'s ${unknown.join(', ')}: teach bench/compose.ts`);
    const service: Json = { container_name: c.name };
    if (c.hostname) service.hostname = c.hostname;

    const image = images[reference(c.image, 'docker_image')];
    if (image.build) {
      const tag = `${imagePrefix}/${image.name.split('/').pop()}`;
      service.image = tag;
      service.build = { context: image.build.context, dockerfile: image.build.dockerfile, args: image.build.build_args ?? {} };
      if (!builtImages.includes(tag)) builtImages.push(tag);
    } else {
      service.image = image.name;
    }
    if (c.command) service.command = c.command;
    if (c.env) service.environment = c.env.map(resolveVars);
    service.networks = (c.networks_advanced ?? []).map((n: Json) => networks[reference(n.name, 'docker_network')].name);
    if (c.ports) service.ports = c.ports.map((p: Json) => `${p.ip}:${p.external}:${p.internal}/${p.protocol ?? 'tcp'}`);

    const mounts: string[] = [];
    for (const v of c.volumes ?? []) {
      if (!v.volume_name || /\$\{/.test(v.volume_name)) throw new Error(`unsupported volume ${JSON.stringify(v)}`);
      volumes[v.volume_name] = { name: v.volume_name };
      mounts.push(`${v.volume_name}:${v.container_path}`);
    }
    for (const u of c.upload ?? []) {
      if (u.content_base64 === undefined) throw new Error(`upload of ${u.file} in ${c.name} has no content_base64`);
      const local = path.join(dir, 'files', c.name, u.file);
      fs.mkdirSync(path.dirname(local), { recursive: true });
      fs.writeFileSync(local, Buffer.from(u.content_base64, 'base64'));
      // Terraform's upload: 0644, or the permissions given (0755 for the scripts).
      fs.chmodSync(local, parseInt(u.permissions ?? (u.executable ? '0744' : '0644'), 8));
      mounts.push(`${local}:${u.file}:ro`);
    }
    if (mounts.length) service.volumes = mounts;

    if (c.healthcheck) {
      const h = c.healthcheck;
      service.healthcheck = { test: h.test, interval: h.interval, timeout: h.timeout, retries: h.retries, start_period: h.start_period };
    }
    if (c.capabilities?.add) service.cap_add = c.capabilities.add;
    if (c.capabilities?.drop) service.cap_drop = c.capabilities.drop;
    if (c.security_opts) service.security_opt = c.security_opts;
    if (c.sysctls) service.sysctls = c.sysctls;
    if (c.labels) service.labels = Object.fromEntries(c.labels.map((l: Json) => [l.label, l.value]));
    if (c.restart) service.restart = c.restart;
    if (c.log_driver) service.logging = { driver: c.log_driver, options: c.log_opts ?? {} };
    if (c.destroy_grace_seconds) service.stop_grace_period = `${c.destroy_grace_seconds}s`;
    const deps = (c.depends_on ?? []).filter((d: string) => d.startsWith('docker_container.')).map((d: string) => nameOf(d.split('.')[1]));
    if (deps.length) service.depends_on = Object.fromEntries(deps.map((d: string) => [d, { condition: 'service_healthy' }]));
    services[c.name] = service;
  }

  const composeNetworks = Object.fromEntries(
    Object.values(networks).map((n) => [
      n.name,
      { name: n.name, ...(n.internal ? { internal: true } : {}), labels: Object.fromEntries((n.labels ?? []).map((l: Json) => [l.label, l.value])) },
    ]),
  );
  const file = path.join(dir, 'compose.json');
  fs.writeFileSync(file, JSON.stringify({ services, networks: composeNetworks, volumes }, null, 2) + '\n');

  const gate = Object.values(res.null_resource ?? {})[0] as Json | undefined;
  const gateEnv = gate?.provisioner?.[0]?.['local-exec']?.environment ?? {};
  if (!gateEnv.DWI_GATE_URL) throw new Error('the synthesized stack has no readiness gate to imitate');
  return {
    file,
    containers: Object.values(containers).map((c) => c.name),
    builtImages,
    servers: String(gateEnv.DWI_GATE_SERVERS ?? '').split(',').filter(Boolean),
    gateUrl: gateEnv.DWI_GATE_URL,
  };
}
