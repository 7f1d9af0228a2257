/**
 * The example app: the design documents' setup (3 web servers, round robin,
 * active-active, a primary and 1 replica) running the demo application in app/.
 *
 *   TF_VAR_db_password=… TF_VAR_db_root_password=… TF_VAR_db_replication_password=… npx cdktf deploy
 *
 * The stack owns the Docker provider; the constructs never configure one.
 */
import * as path from 'path';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { App, TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import {
  DatabaseEngine,
  DataRetention,
  DistributedWebInfrastructure,
  LoadBalancerOptions,
} from './src';

/** What the end-to-end suite and benchmarks change in the example; a user needs none of it. */
export interface ExampleStackProps {
  /** Prefix of container names. @default 'dwi' */
  readonly name?: string;
  /** @default DatabaseEngine.MYSQL */
  readonly engine?: DatabaseEngine;
  /** @default 3 */
  readonly webServerCount?: number;
  /** @default - round robin, active-active, port 8080 on all addresses */
  readonly loadBalancer?: LoadBalancerOptions;
  /** Image overrides, e.g. locally built stand-ins. @default - the pinned official images */
  readonly images?: { haproxy?: string; nginx?: string; database?: string; node?: string };
  /** @default DataRetention.RETAIN */
  readonly dataRetention?: DataRetention;
}

export class ExampleStack extends TerraformStack {
  public readonly site: DistributedWebInfrastructure;

  constructor(scope: Construct, id: string, props: ExampleStackProps = {}) {
    super(scope, id);

    // The Docker host: the local socket by default; `tcp://host:2376` with the TLS
    // material, or `ssh://user@host`, for a remote one.
    const dockerHost = variable(this, 'docker_host', 'Docker host the stack deploys to', 'unix:///var/run/docker.sock');
    const ca = variable(this, 'docker_ca_material', 'PEM of the CA of a TLS Docker endpoint', '', true);
    const cert = variable(this, 'docker_cert_material', 'PEM client certificate for a TLS Docker endpoint', '', true);
    const key = variable(this, 'docker_key_material', 'PEM client key for a TLS Docker endpoint', '', true);
    new DockerProvider(this, 'docker', {
      host: dockerHost.stringValue,
      caMaterial: ca.stringValue,
      certMaterial: cert.stringValue,
      keyMaterial: key.stringValue,
    });
    new NullProvider(this, 'null');

    const images = props.images ?? {};
    this.site = new DistributedWebInfrastructure(this, 'site', {
      name: props.name ?? 'dwi',
      loadBalancer: { ...props.loadBalancer, image: images.haproxy },
      webServers: {
        count: props.webServerCount ?? 3,
        nginxImage: images.nginx,
        app: {
          build: {
            context: path.join(__dirname, 'app'),
            buildArgs: images.node ? { NODE_IMAGE: images.node } : undefined,
          },
        },
        staticFiles: { directory: path.join(__dirname, 'app', 'public') },
      },
      database: {
        engine: props.engine ?? DatabaseEngine.MYSQL,
        replicas: 1,
        image: images.database,
        readBalancerImage: images.haproxy,
        dataRetention: props.dataRetention,
        password: variable(this, 'db_password', 'Password of the application database user', undefined, true).stringValue,
        rootPassword: variable(this, 'db_root_password', 'Root password of every database node', undefined, true).stringValue,
        replicationPassword: variable(this, 'db_replication_password', 'Password of the replication user', undefined, true)
          .stringValue,
      },
    });

    new TerraformOutput(this, 'site_url', { value: this.site.siteUrl, description: 'URL of the site on the Docker host' });
    new TerraformOutput(this, 'web_servers', { value: this.site.webServerNames, description: 'Names of the web servers' });
    new TerraformOutput(this, 'database_hosts', {
      value: this.site.databaseHosts,
      description: 'Database hosts on the back network, primary first',
    });
  }
}

function variable(scope: Construct, name: string, description: string, defaultValue?: string, sensitive = false) {
  return new TerraformVariable(scope, name, { type: 'string', description, default: defaultValue, sensitive, nullable: false });
}

if (require.main === module) {
  const app = new App();
  new ExampleStack(app, 'distributed-web');
  app.synth();
}
