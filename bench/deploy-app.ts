/**
 * The stack the deploy, data-path and replication benchmarks deploy: the example app
 * (main.ts) with the local stand-in images and engine MARIADB (the one Debian packages),
 * published on 127.0.0.1 only. Modelled on e2e/app.ts, without its extra load balancers.
 *
 * Environment (set by bench/stack.ts):
 *   DWIB_NAME                  prefix of container, network and volume names (default dwib)
 *   DWIB_PORT                  host port of the load balancer (default 19080)
 *   DWIB_STATE                 path of the local Terraform state
 *   DWI_TF_DOCKER_VERSION, DWI_TF_NULL_SOURCE   the offline provider mirror's versions (env.sh)
 */
import { Image } from '@cdktf/provider-docker/lib/image';
import { App, LocalBackend } from 'cdktf';
import { ExampleStack } from '../main';
import { DatabaseEngine, DataRetention } from '../src';
import { IMAGES, PORTS, PREFIX } from './lib';

const BENCH_STACK = 'dwib';

const app = new App();
const stack = new ExampleStack(app, BENCH_STACK, {
  name: process.env.DWIB_NAME ?? PREFIX,
  engine: DatabaseEngine.MARIADB,
  images: IMAGES,
  loadBalancer: { port: Number(process.env.DWIB_PORT ?? PORTS.cdktfLb), hostAddress: '127.0.0.1' },
  dataRetention: DataRetention.RETAIN,
});
if (process.env.DWI_TF_DOCKER_VERSION) stack.addOverride('terraform.required_providers.docker.version', process.env.DWI_TF_DOCKER_VERSION);
if (process.env.DWI_TF_NULL_SOURCE) stack.addOverride('terraform.required_providers.null.source', process.env.DWI_TF_NULL_SOURCE);
if (process.env.DWIB_STATE) new LocalBackend(stack, { path: process.env.DWIB_STATE });

// The application image gets a tag of its own: the e2e suite builds the same content under
// dwi-build/app:<key>, and a destroy here must never untag an image that the suite runs.
const builds = stack.node.tryFindChild('DistributedWebAppBuilds');
for (const image of builds?.node.children ?? []) {
  const name = (image as Image).nameInput ?? '';
  (image as Image).addOverride('name', name.replace(/^dwi-build\//, 'dwib-build/'));
}

app.synth();
