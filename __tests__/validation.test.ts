import { Lazy, TerraformStack, TerraformVariable, Testing, Token } from 'cdktf';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import {
  DNS_LABEL,
  IMAGE_REFERENCE,
  URL_PATH,
  ValidationError,
  checkEnum,
  checkInteger,
  checkNonEmpty,
  checkPattern,
  checkPort,
  checkPositive,
  describe as describeValue,
} from '../src/validation';

/** A construct at path `test/site/lb`, and its stack for variables. */
function scope(): { stack: TerraformStack; lb: Construct } {
  const stack = new TerraformStack(Testing.app(), 'test');
  return { stack, lb: new Construct(new Construct(stack, 'site'), 'lb') };
}

enum Color {
  RED = 'red',
  DARK_BLUE = 'dark-blue',
}

describe('ValidationError', () => {
  it('prefixes the message with the construct path and keeps the path', () => {
    // GIVEN / WHEN
    const err = new ValidationError(scope().lb, "'x' is wrong");
    // THEN
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ValidationError');
    expect(err.message).toBe("test/site/lb: 'x' is wrong");
    expect(err.constructPath).toBe('test/site/lb');
  });
});

describe('describe', () => {
  it.each<[unknown, string]>([
    ['web 1', '"web 1"'],
    ['', '""'],
    [undefined, 'undefined'],
    [null, 'null'],
    [3, '3'],
    [2.5, '2.5'],
    [NaN, 'NaN'],
    [-Infinity, '-Infinity'],
    [[1, 'a'], '[1,"a"]'],
    [{ a: 1 }, '{"a":1}'],
  ])('formats %j as %s', (value, expected) => {
    expect(describeValue(value)).toBe(expected);
  });
});

describe('checkInteger', () => {
  it.each([1, 5, 64])('accepts %i in [1, 64]', (value) => {
    expect(() => checkInteger(scope().lb, 'count', value, 1, 64)).not.toThrow();
  });

  it.each<[unknown, string]>([
    [0, '0'],
    [65, '65'],
    [1.5, '1.5'],
    [NaN, 'NaN'],
    ['3', '"3"'],
  ])('fails when the value is %j', (value, shown) => {
    expect(() => checkInteger(scope().lb, 'count', value as number, 1, 64)).toThrow(
      new RegExp(`^test/site/lb: 'count' must be an integer from 1 to 64, got ${shown.replace(/[.]/g, '\\.')}$`),
    );
  });

  it('lets an unresolved number token through, although it looks like a huge negative number', () => {
    // GIVEN
    const { stack, lb } = scope();
    const count = new TerraformVariable(stack, 'count', { type: 'number' }).numberValue;
    expect(count).toBeLessThan(1);
    // WHEN / THEN
    expect(() => checkInteger(lb, 'count', count, 1, 64)).not.toThrow();
    expect(() => checkInteger(lb, 'count', Token.asNumber(Lazy.numberValue({ produce: () => 0 })), 1, 64)).not.toThrow();
  });
});

describe('checkPositive', () => {
  it.each([0.001, 1, 3600])('accepts %s', (value) => {
    expect(() => checkPositive(scope().lb, 'timeoutSeconds', value, 3600)).not.toThrow();
  });

  it.each<[number, string]>([
    [0, '0'],
    [-1, '-1'],
    [3600.5, '3600.5'],
    [Infinity, 'Infinity'],
    [NaN, 'NaN'],
  ])('fails when the value is %s', (value, shown) => {
    expect(() => checkPositive(scope().lb, 'timeoutSeconds', value, 3600)).toThrow(
      `test/site/lb: 'timeoutSeconds' must be a number greater than 0 and at most 3600, got ${shown}`,
    );
  });

  it('lets an unresolved number token through', () => {
    const { stack, lb } = scope();
    expect(() => checkPositive(lb, 'timeoutSeconds', new TerraformVariable(stack, 't', { type: 'number' }).numberValue, 10)).not.toThrow();
  });
});

describe('checkPort', () => {
  it.each([1, 80, 65535])('accepts port %i', (port) => {
    expect(() => checkPort(scope().lb, 'port', port)).not.toThrow();
  });

  it.each([0, 65536, 80.5, -80])('fails when the port is %s', (port) => {
    expect(() => checkPort(scope().lb, 'port', port)).toThrow(
      new RegExp(`^test/site/lb: 'port' must be an integer from 1 to 65535, got ${String(port).replace('.', '\\.')}$`),
    );
  });

  it('lets an unresolved port through', () => {
    expect(() => checkPort(scope().lb, 'port', Token.asNumber(Lazy.numberValue({ produce: () => 70000 })))).not.toThrow();
  });
});

describe('checkEnum', () => {
  it.each([Color.RED, Color.DARK_BLUE])('accepts the member %s', (value) => {
    expect(() => checkEnum(scope().lb, 'color', value, Color)).not.toThrow();
  });

  it('fails when the value is not a member, listing every allowed name and value', () => {
    expect(() => checkEnum(scope().lb, 'color', 'green' as Color, Color)).toThrow(
      `test/site/lb: 'color' must be one of RED ("red"), DARK_BLUE ("dark-blue"), got "green"`,
    );
  });

  it('fails when given the member name instead of its value', () => {
    expect(() => checkEnum(scope().lb, 'color', 'RED' as Color, Color)).toThrow(/'color' must be one of .* got "RED"$/);
  });
});

describe('checkPattern', () => {
  it('accepts a matching string', () => {
    expect(() => checkPattern(scope().lb, 'name', 'web-1', DNS_LABEL, 'a DNS label')).not.toThrow();
  });

  it('fails when the string does not match, saying in words what is allowed', () => {
    expect(() => checkPattern(scope().lb, 'name', 'Web_1', DNS_LABEL, 'a DNS label')).toThrow(
      `test/site/lb: 'name' must be a DNS label, got "Web_1"`,
    );
  });

  it('fails when the value is not a string', () => {
    expect(() => checkPattern(scope().lb, 'name', 42 as unknown as string, DNS_LABEL, 'a DNS label')).toThrow(/'name' must be a DNS label, got 42$/);
  });

  it('lets unresolved string tokens through', () => {
    // GIVEN
    const { stack, lb } = scope();
    const fromVariable = new TerraformVariable(stack, 'name', { type: 'string' }).stringValue;
    const lazy = Token.asString(Lazy.stringValue({ produce: () => 'NOT A LABEL' }));
    // WHEN / THEN
    expect(() => checkPattern(lb, 'name', fromVariable, DNS_LABEL, 'a DNS label')).not.toThrow();
    expect(() => checkPattern(lb, 'name', lazy, DNS_LABEL, 'a DNS label')).not.toThrow();
  });
});

describe('checkNonEmpty', () => {
  it('accepts a non-empty string and an unresolved token', () => {
    const { stack, lb } = scope();
    expect(() => checkNonEmpty(lb, 'password', 's3cret')).not.toThrow();
    expect(() => checkNonEmpty(lb, 'password', new TerraformVariable(stack, 'pw', { type: 'string', sensitive: true }).stringValue)).not.toThrow();
  });

  it.each<[unknown, string]>([
    ['', '""'],
    [undefined, 'undefined'],
    [7, '7'],
  ])('fails when the value is %j', (value, shown) => {
    expect(() => checkNonEmpty(scope().lb, 'password', value as string)).toThrow(
      `test/site/lb: 'password' must be a non-empty string, got ${shown}`,
    );
  });
});

describe('patterns', () => {
  it.each(['a', 'web-1', 'a1', 'x'.repeat(40)])('DNS_LABEL accepts %s', (v) => expect(DNS_LABEL.test(v)).toBe(true));
  it.each(['', 'Web', '-a', 'a-', 'a_b', 'a.b', 'x'.repeat(41)])('DNS_LABEL rejects %j', (v) => expect(DNS_LABEL.test(v)).toBe(false));

  it.each([
    'nginx',
    'nginx:1.27.2',
    'haproxy:3.0.5',
    'registry.example.com/team/app:1',
    'localhost:5000/app:latest',
    `mysql@sha256:${'a'.repeat(64)}`,
  ])('IMAGE_REFERENCE accepts %s', (v) => expect(IMAGE_REFERENCE.test(v)).toBe(true));
  it.each(['', 'Nginx', 'nginx:', 'nginx 1', 'app:${var.tag}', `mysql@sha256:${'a'.repeat(63)}`])('IMAGE_REFERENCE rejects %j', (v) =>
    expect(IMAGE_REFERENCE.test(v)).toBe(false),
  );

  it.each(['/', '/healthz', '/status/ready', '/a-b_c.d~e'])('URL_PATH accepts %s', (v) => expect(URL_PATH.test(v)).toBe(true));
  it.each(['', 'healthz', '/a b', '/a?b=1', '/a#b', '/${x}', '/%{x}', '/a"b', '/a\\b'])('URL_PATH rejects %j', (v) =>
    expect(URL_PATH.test(v)).toBe(false),
  );
});
