import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { base64 } from './docker-support';
import { checkInteger } from './validation';

export interface ReadinessGateProps {
  /** URL probed from the deploying machine, through the load balancer. */
  readonly url: string;
  /**
   * Server names (the `X-Web-Server` response header) that must each answer at least once.
   * @default - any server will do
   */
  readonly expectedServers?: string[];
  /**
   * Consecutive 200 answers required.
   * @default 3
   */
  readonly consecutiveSuccesses?: number;
  /**
   * Seconds to wait before the deploy fails.
   * @default 180
   */
  readonly timeoutSeconds?: number;
  /** Resources the gate waits for; any of them being replaced runs the gate again. */
  readonly dependsOn: ITerraformDependable[];
  /**
   * Values whose change runs the gate again.
   * @default - none
   */
  readonly triggers?: { [name: string]: string };
}

/**
 * Makes `cdktf deploy` return only once the stack serves: a `null_resource` whose
 * local-exec provisioner probes the site through the load balancer until it answers
 * 200 several times in a row, from every expected server.
 *
 * It runs with Node.js on the deploying machine (cdktf needs it anyway), so it needs no
 * curl. The script travels base64-encoded in the environment: Terraform would read
 * `${…}` in a command as a template.
 */
export class ReadinessGate extends Construct {
  public readonly resource: NullResource;

  constructor(scope: Construct, id: string, props: ReadinessGateProps) {
    super(scope, id);
    const timeout = props.timeoutSeconds ?? 180;
    const successes = props.consecutiveSuccesses ?? 3;
    checkInteger(this, 'timeoutSeconds', timeout, 1, 3600);
    checkInteger(this, 'consecutiveSuccesses', successes, 1, 1000);
    this.resource = new NullResource(this, 'Resource', {
      triggers: { url: props.url, ...props.triggers },
      dependsOn: props.dependsOn,
      provisioners: [
        {
          type: 'local-exec',
          command: 'node -e "eval(Buffer.from(process.env.DWI_GATE_SCRIPT, \'base64\').toString())"',
          environment: {
            DWI_GATE_SCRIPT: base64(GATE_SCRIPT),
            DWI_GATE_URL: props.url,
            DWI_GATE_SERVERS: (props.expectedServers ?? []).join(','),
            DWI_GATE_SUCCESSES: String(successes),
            DWI_GATE_TIMEOUT_SECONDS: String(timeout),
          },
        },
      ],
    });
  }
}

/** The probe loop. Plain Node.js, no dependencies; exits 0 when ready, 1 on timeout. */
export const GATE_SCRIPT = `
const url = new URL(process.env.DWI_GATE_URL);
const client = require(url.protocol === 'https:' ? 'https' : 'http');
const expected = (process.env.DWI_GATE_SERVERS || '').split(',').filter(Boolean);
const needed = Number(process.env.DWI_GATE_SUCCESSES);
const timeoutMs = Number(process.env.DWI_GATE_TIMEOUT_SECONDS) * 1000;
const deadline = Date.now() + timeoutMs;
const seen = new Set();
let streak = 0;
let last = 'no answer yet';
function settle() {
  const missing = expected.filter((s) => !seen.has(s));
  if (streak >= needed && missing.length === 0) {
    console.log('ready: ' + url.href + ' answered ' + streak + ' times in a row' + (seen.size ? ', by ' + Array.from(seen).join(', ') : ''));
    process.exit(0);
  }
  if (Date.now() > deadline) {
    console.error('not ready after ' + timeoutMs / 1000 + ' s: ' + url.href + ': last: ' + last + (missing.length ? '; never answered by: ' + missing.join(', ') : ''));
    process.exit(1);
  }
  setTimeout(probe, streak > 0 ? 100 : 1000);
}
function probe() {
  const req = client.get(url, { timeout: 5000, rejectUnauthorized: false, headers: { connection: 'close' } }, (res) => {
    res.resume();
    const server = res.headers['x-web-server'];
    if (res.statusCode === 200) {
      streak += 1;
      if (server) seen.add(String(server));
    } else {
      streak = 0;
      last = 'HTTP ' + res.statusCode;
    }
    res.on('end', settle);
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (err) => {
    streak = 0;
    last = err.message;
    settle();
  });
}
probe();
`;
