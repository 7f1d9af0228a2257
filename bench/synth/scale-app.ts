/**
 * The synth benchmark's scaling app: the library's DistributedWebInfrastructure with
 * DWIB_SCALE_SERVERS web servers in all (each one Nginx + the example's application,
 * built from app/, with the example's static files), plus its database and load balancer.
 *
 * One construct takes at most 64 web servers, so above that the servers are split over
 * several constructs of at most 60 (300 = 5 x 60), each a complete site with its own
 * name, load balancer port, networks and database; the image build is shared.
 */
import * as path from 'path';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { App, TerraformStack, TerraformVariable } from 'cdktf';
import { DistributedWebInfrastructure } from '../../src';

const APP_DIR = process.env.DWIB_APP_DIR ?? path.resolve(__dirname, '..', '..', 'app');
const total = Number(process.env.DWIB_SCALE_SERVERS ?? 3);
const PER_SITE = 60;

const app = new App();
const stack = new TerraformStack(app, 'scale');
new DockerProvider(stack, 'docker', {});
new NullProvider(stack, 'null');
const secret = (name: string) => new TerraformVariable(stack, name, { type: 'string', sensitive: true }).stringValue;
const database = { password: secret('db_password'), rootPassword: secret('db_root_password'), replicationPassword: secret('db_replication_password') };

const sites = total <= 64 ? [total] : Array.from({ length: Math.ceil(total / PER_SITE) }, (_, i) => Math.min(PER_SITE, total - i * PER_SITE));
sites.forEach((count, i) => {
  new DistributedWebInfrastructure(stack, `site${i + 1}`, {
    name: `scale${i + 1}`,
    loadBalancer: { port: 8080 + i },
    webServers: { count, app: { build: { context: APP_DIR } }, staticFiles: { directory: path.join(APP_DIR, 'public') } },
    database,
  });
});
app.synth();
