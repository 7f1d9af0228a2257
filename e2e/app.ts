/**
 * The stack the end-to-end suite deploys: the example app (main.ts) with the local
 * stand-in images and engine MARIADB (the one Debian packages), published on loopback.
 *
 * Three more load balancers in front of the same web servers prove the other
 * algorithms and active-passive mode without deploying the rest again.
 */
import * as path from 'path';
import { App, LocalBackend, TerraformVariable } from 'cdktf';
import { ExampleStack } from '../main';
import { DatabaseEngine, DataRetention, LoadBalancer, LoadBalancerMode, LoadBalancerOptions, LoadBalancingAlgorithm } from '../src';
import { E2E } from './config';

const variant = process.env.DWI_E2E_VARIANT ?? 'local';
// The CLI's --output decides where this app writes (through CDKTF_OUTDIR).
const app = new App();
const stack = new ExampleStack(app, E2E.stackName, {
  name: E2E.name,
  engine: DatabaseEngine.MARIADB,
  images: E2E.images,
  loadBalancer: { port: E2E.ports.roundRobin, hostAddress: '127.0.0.1' },
  dataRetention: DataRetention.RETAIN,
});
// Require exactly the providers scripts/setup-terraform.sh put in the offline mirror: the
// Go module proxy here serves kreuzwerker/docker only at 4.6.0 (not 3.6.2, which the
// prebuilt bindings pin) and no hashicorp/null at all, so the mirror holds docker 4.6.0
// and our own null stand-in under its own address. On a machine with the registry, none
// of these variables is set and the stack keeps the bindings' pins.
if (process.env.DWI_TF_DOCKER_VERSION) stack.addOverride('terraform.required_providers.docker.version', process.env.DWI_TF_DOCKER_VERSION);
if (process.env.DWI_TF_NULL_SOURCE) stack.addOverride('terraform.required_providers.null.source', process.env.DWI_TF_NULL_SOURCE);
new LocalBackend(stack, { path: path.join(E2E.workDir, variant, 'terraform.tfstate') });

const variants: [string, LoadBalancerOptions][] = [
  ['leastconn', { algorithm: LoadBalancingAlgorithm.LEAST_CONNECTIONS, port: E2E.ports.leastConnections }],
  ['source', { algorithm: LoadBalancingAlgorithm.SOURCE, port: E2E.ports.source }],
  ['passive', { mode: LoadBalancerMode.ACTIVE_PASSIVE, passiveServers: 1, port: E2E.ports.activePassive }],
  // The firewall: private networks only (clients on this host arrive through Docker's proxy,
  // from the network's gateway), 20 requests per 10 s per client, bodies up to 1 MiB...
  ['guarded', { port: E2E.ports.guarded, allowedSourceCidrs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'], rateLimit: { requests: 20, windowSeconds: 10 }, maxRequestBodyMegabytes: 1 }],
  // ...and one that admits nobody we can be (TEST-NET-1).
  ['denied', { port: E2E.ports.denied, allowedSourceCidrs: ['192.0.2.0/24'] }],
];
if (variant === 'local') {
  // HTTPS, with a certificate from a sensitive variable (the test CA's, for 127.0.0.1).
  const certificate = new TerraformVariable(stack, 'tls_certificate_pem', { type: 'string', sensitive: true });
  variants.push(['tls', { port: E2E.ports.tlsHttp, tls: { certificatePem: certificate.stringValue, port: E2E.ports.tlsHttps } }]);
}
// Only the local deployment carries the extra load balancers; the remote one is the plain example.
for (const [id, options] of variant === 'local' ? variants : []) {
  const lb = new LoadBalancer(stack, `lb-${id}`, {
    ...options,
    containerName: `${E2E.name}-lb-${id}`,
    hostAddress: '127.0.0.1',
    image: E2E.images.haproxy,
    networks: [stack.site.frontNetwork],
  });
  for (const server of stack.site.webServers) lb.addTarget(server);
}

// Step 6 of the suite replaces one application container by changing its environment,
// through the construct's exposed container (the escape hatch every part offers).
const revision = process.env.DWI_E2E_APP_REVISION;
if (revision) {
  const web1 = stack.site.webServers[0];
  web1.app.addOverride(
    'env',
    Object.entries({ ...web1.environment, APP_REVISION: revision }).map(([k, v]) => `${k}=${v}`),
  );
}

app.synth();
