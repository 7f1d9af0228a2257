/** Names, ports and images shared by the end-to-end app and suite. */
import * as path from 'path';

export const E2E = {
  stackName: 'dwi-e2e',
  /** Prefix of every container, network and volume of the suite. */
  name: process.env.DWI_E2E_NAME ?? 'dwie2e',
  workDir: process.env.DWI_E2E_WORK ?? path.join(__dirname, '.work'),
  ports: {
    roundRobin: Number(process.env.DWI_E2E_PORT ?? 18080),
    leastConnections: 18081,
    source: 18082,
    activePassive: 18083,
    guarded: 18084,
    denied: 18085,
    tlsHttp: 18086,
    tlsHttps: 18446,
  },
  images: {
    haproxy: 'dwi-local/haproxy:2.6',
    nginx: 'dwi-local/nginx:1.22',
    database: 'dwi-local/mariadb:10.11',
    node: 'dwi-local/node:18',
  },
  passwords: {
    db_password: 'app-Pa55 with \'quotes\' and $dollars',
    db_root_password: 'root-Pa55',
    db_replication_password: 'repl-Pa55\\backslash',
  },
};
