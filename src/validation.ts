import { Token } from 'cdktf';
import { IConstruct } from 'constructs';

/**
 * Thrown when a construct receives a prop it cannot build from.
 *
 * The message always names the construct path, the prop, the value received and
 * what is allowed, so a user can fix the call without reading our source.
 */
export class ValidationError extends Error {
  /** The construct path of the construct that rejected the prop. */
  public readonly constructPath: string;

  constructor(scope: IConstruct, message: string) {
    super(`${scope.node.path}: ${message}`);
    this.name = 'ValidationError';
    this.constructPath = scope.node.path;
  }
}

/** Formats a received value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * Checks that `value` is an integer in `[min, max]`. Unresolved tokens pass:
 * their value is only known to Terraform.
 */
export function checkInteger(scope: IConstruct, prop: string, value: number, min: number, max: number): void {
  if (Token.isUnresolved(value)) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(scope, `'${prop}' must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
}

/** Checks that `value` is a finite number greater than zero (and at most `max`). */
export function checkPositive(scope: IConstruct, prop: string, value: number, max: number): void {
  if (Token.isUnresolved(value)) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new ValidationError(scope, `'${prop}' must be a number greater than 0 and at most ${max}, got ${describe(value)}`);
  }
}

/** Checks a TCP port number. */
export function checkPort(scope: IConstruct, prop: string, value: number): void {
  checkInteger(scope, prop, value, 1, 65535);
}

/** Checks that `value` is one of the members of a string enum (callers from JavaScript can pass anything). */
export function checkEnum<T extends string>(scope: IConstruct, prop: string, value: T, enumObject: Record<string, T>): void {
  if (Token.isUnresolved(value)) return;
  const allowed = Object.values(enumObject);
  if (!allowed.includes(value)) {
    const names = Object.keys(enumObject).map((k) => `${k} (${JSON.stringify(enumObject[k])})`).join(', ');
    throw new ValidationError(scope, `'${prop}' must be one of ${names}, got ${describe(value)}`);
  }
}

/** Checks that `value` is `true` or `false` (callers from JavaScript can pass anything). */
export function checkBoolean(scope: IConstruct, prop: string, value: boolean): void {
  if (typeof value !== 'boolean') {
    throw new ValidationError(scope, `'${prop}' must be true or false, got ${describe(value)}`);
  }
}

/** Checks that a string matches a pattern; `what` says in words what is allowed. */
export function checkPattern(scope: IConstruct, prop: string, value: string, pattern: RegExp, what: string): void {
  if (Token.isUnresolved(value)) return;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ValidationError(scope, `'${prop}' must be ${what}, got ${describe(value)}`);
  }
}

/** Checks that a required secret or string was given and is not empty. Tokens pass. */
export function checkNonEmpty(scope: IConstruct, prop: string, value: string | undefined): void {
  if (value !== undefined && Token.isUnresolved(value)) return;
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError(scope, `'${prop}' must be a non-empty string, got ${describe(value)}`);
  }
}

/** Lower-case DNS label: used for every Docker container, network and volume name we derive. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
export const DNS_LABEL_TEXT = 'a lower-case DNS label of 1 to 40 characters (a-z, 0-9 and inner hyphens)';

/** A Docker image reference, loosely: `[registry[:port]/]name[:tag][@digest]`. */
export const IMAGE_REFERENCE = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
export const IMAGE_REFERENCE_TEXT = 'a Docker image reference such as "nginx:1.27.2" or "registry.example.com/team/app:1"';

/** An absolute URL path such as `/healthz`, without spaces, quotes or template characters. */
// Deliberately narrow: the path lands in haproxy.cfg, nginx.conf and a shell probe command.
export const URL_PATH = /^\/[A-Za-z0-9._~\/-]*$/;
export const URL_PATH_TEXT = 'an absolute URL path such as "/healthz" (letters, digits and . _ ~ / - only)';
