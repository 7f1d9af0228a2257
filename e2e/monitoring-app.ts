/**
 * The stack the monitoring end-to-end test deploys: the example's site (3 web servers
 * running the demo application, MariaDB primary and 1 replica, the local stand-in images)
 * with the stats page and the database's exporter user on, and a {@link Monitoring}
 * construct watching it. Its own name prefix and ports, so it runs beside the main suite's.
 *
 * The example stack (main.ts) takes no monitoring or stats password, so this app composes
 * DistributedWebInfrastructure itself, with the same options as the example.
 */
import * as path from 'path';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { App, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import { DatabaseEngine, DataRetention, DistributedWebInfrastructure, Monitoring } from '../src';
import { E2E } from './config';

/** Names, ports and stand-in images of this deployment, shared with e2e/monitoring.e2e.test.ts. */
export const MONITORING_E2E = {
  variant: 'monitoring',
  name: process.env.DWI_E2E_MONITORING_NAME ?? 'dwie2em',
  ports: { site: 18100, prometheus: 18190 },
  images: {
    prometheus: 'dwi-local/prometheus:2.42',
    mysqldExporter: 'dwi-local/mysqld-exporter:0.14',
    nginxExporter: 'dwi-local/nginx-exporter:0.11',
  },
  passwords: {
    monitoring_password: 'mon-Pa55 with \'quotes\', $dollars, @:/ and "double"',
    stats_password: 'stats-Pa55',
  },
  /** Short alert windows, so the test sees them fire quickly. */
  alerts: { backendDownForSeconds: 15, replicaAlertForSeconds: 20 },
  scrapeIntervalSeconds: 5,
};

class MonitoredStack extends TerraformStack {
  public readonly site: DistributedWebInfrastructure;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new DockerProvider(this, 'docker', {});
    new NullProvider(this, 'null');
    const secret = (name: string, description: string) =>
      new TerraformVariable(this, name, { type: 'string', description, sensitive: true, nullable: false }).stringValue;
    const monitoringPassword = secret('monitoring_password', "Password of the database's exporter user");

    const root = path.join(__dirname, '..');
    this.site = new DistributedWebInfrastructure(this, 'site', {
      name: MONITORING_E2E.name,
      loadBalancer: {
        port: MONITORING_E2E.ports.site,
        hostAddress: '127.0.0.1',
        image: E2E.images.haproxy,
        statsPassword: secret('stats_password', "Password of user admin on HAProxy's stats page"),
      },
      webServers: {
        count: 3,
        nginxImage: E2E.images.nginx,
        app: { build: { context: path.join(root, 'app'), buildArgs: { NODE_IMAGE: E2E.images.node } } },
        staticFiles: { directory: path.join(root, 'app', 'public') },
      },
      database: {
        engine: DatabaseEngine.MARIADB,
        replicas: 1,
        image: E2E.images.database,
        readBalancerImage: E2E.images.haproxy,
        dataRetention: DataRetention.DESTROY,
        password: secret('db_password', 'Password of the application database user'),
        rootPassword: secret('db_root_password', 'Root password of every database node'),
        replicationPassword: secret('db_replication_password', 'Password of the replication user'),
        monitoringPassword,
      },
    });

    this.monitoring = new Monitoring(this, 'monitoring', {
      site: this.site,
      databasePassword: monitoringPassword,
      port: MONITORING_E2E.ports.prometheus,
      prometheusImage: MONITORING_E2E.images.prometheus,
      mysqldExporterImage: MONITORING_E2E.images.mysqldExporter,
      nginxExporterImage: MONITORING_E2E.images.nginxExporter,
      scrapeIntervalSeconds: MONITORING_E2E.scrapeIntervalSeconds,
      alerts: MONITORING_E2E.alerts,
    });

    new TerraformOutput(this, 'prometheus_url', { value: this.monitoring.url });
  }
}

if (require.main === module) {
  // The CLI's --output decides where this app writes (through CDKTF_OUTDIR).
  const app = new App();
  const stack = new MonitoredStack(app, E2E.stackName);
  // The same provider pins as e2e/app.ts: the offline mirror's (see there).
  if (process.env.DWI_TF_DOCKER_VERSION) stack.addOverride('terraform.required_providers.docker.version', process.env.DWI_TF_DOCKER_VERSION);
  if (process.env.DWI_TF_NULL_SOURCE) stack.addOverride('terraform.required_providers.null.source', process.env.DWI_TF_NULL_SOURCE);
  new LocalBackend(stack, { path: path.join(E2E.workDir, MONITORING_E2E.variant, 'terraform.tfstate') });
  app.synth();
}
