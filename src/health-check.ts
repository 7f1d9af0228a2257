import { createHash } from 'crypto';
import { IConstruct } from 'constructs';
import { ValidationError, checkInteger, checkPositive, describe } from './validation';

/**
 * How Docker probes one container.
 * @see https://docs.docker.com/reference/dockerfile/#healthcheck
 */
export interface ContainerHealthCheckOptions {
  /**
   * Seconds between two probes. Docker runs the first probe one interval after the start
   * (Docker 20.10 has no shorter start interval), and a deploy waits for each tier to be
   * healthy before it starts the next, so this is also the step of a deploy.
   * @default 2
   */
  readonly intervalSeconds?: number;
  /**
   * Seconds one probe may take.
   * @default 3
   */
  readonly timeoutSeconds?: number;
  /**
   * Consecutive failed probes that make the container unhealthy.
   * @default 3
   */
  readonly retries?: number;
  /**
   * Seconds after start during which failed probes do not count.
   * @default - 10 for web containers, 30 for databases
   */
  readonly startPeriodSeconds?: number;
}

/** A health check with every value resolved. */
export interface ResolvedHealthCheck {
  readonly test: string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/**
 * Resolves health-check options against defaults and validates them.
 * @internal
 */
export function resolveHealthCheck(
  scope: IConstruct,
  prop: string,
  test: string[],
  options: ContainerHealthCheckOptions | undefined,
  defaults: { startPeriodSeconds: number },
): ResolvedHealthCheck {
  if (!['CMD', 'CMD-SHELL', 'NONE'].includes(test[0])) {
    throw new ValidationError(scope, `'${prop}' probe must start with "CMD", "CMD-SHELL" or "NONE" (Docker ignores it otherwise), got ${describe(test)}`);
  }
  const resolved = {
    test,
    intervalSeconds: options?.intervalSeconds ?? 2,
    timeoutSeconds: options?.timeoutSeconds ?? 3,
    retries: options?.retries ?? 3,
    startPeriodSeconds: options?.startPeriodSeconds ?? defaults.startPeriodSeconds,
  };
  checkPositive(scope, `${prop}.intervalSeconds`, resolved.intervalSeconds, 3600);
  checkPositive(scope, `${prop}.timeoutSeconds`, resolved.timeoutSeconds, 3600);
  checkInteger(scope, `${prop}.retries`, resolved.retries, 1, 100);
  checkInteger(scope, `${prop}.startPeriodSeconds`, resolved.startPeriodSeconds, 0, 3600);
  return resolved;
}

/**
 * Formats seconds the way Go's `time.Duration.String()` does (`"500ms"`, `"10s"`, `"1m30s"`).
 *
 * The docker provider reads health-check durations back in this canonical form: any
 * other spelling (`"90s"`, `"1m"`) shows a diff on every plan. The value is rounded to
 * whole milliseconds (Docker's health-check minimum is 1ms), so the output always
 * parses back to itself.
 */
export function goDuration(seconds: number): string {
  const totalMs = Math.round(seconds * 1000);
  if (totalMs === 0) return '0s';
  if (totalMs < 0) return `-${goDuration(-seconds)}`;
  if (totalMs < 1000) return `${totalMs}ms`;
  const hours = Math.floor(totalMs / 3_600_000);
  const minutes = Math.floor((totalMs % 3_600_000) / 60_000);
  const ms = totalMs % 60_000;
  const secs = ms % 1000 === 0 ? String(ms / 1000) : (ms / 1000).toFixed(3).replace(/0+$/, '');
  return `${hours ? `${hours}h` : ''}${hours || minutes ? `${minutes}m` : ''}${secs}s`;
}

/** The provider's `healthcheck` block for a resolved health check. */
export function dockerHealthcheck(check: ResolvedHealthCheck) {
  return {
    test: check.test,
    interval: goDuration(check.intervalSeconds),
    timeout: goDuration(check.timeoutSeconds),
    retries: check.retries,
    startPeriod: goDuration(check.startPeriodSeconds),
  };
}

/**
 * A label value that changes whenever the health check does.
 *
 * Provider 3.6.2 plans a changed `healthcheck` as an in-place update that does nothing
 * (kreuzwerker/terraform-provider-docker#988); labels are ForceNew, so carrying a hash
 * of the spec in a label makes the change real.
 */
export function healthcheckHash(check: ResolvedHealthCheck): string {
  return createHash('sha256').update(JSON.stringify(dockerHealthcheck(check))).digest('hex').slice(0, 16);
}

/**
 * A probe command that sends `GET path` to a port inside the container and passes on
 * status 200. It needs only bash (its `/dev/tcp`), which the official Debian-based
 * haproxy and nginx images have; neither ships curl or wget.
 */
export function bashHttpProbe(port: number, path: string): string[] {
  const request = `GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n`;
  return [
    'CMD',
    'bash',
    '-c',
    `exec 3<>/dev/tcp/127.0.0.1/${port} && printf '${request}' >&3 && head -n 1 <&3 | grep -q ' 200 '`,
  ];
}
