import { Network } from '@cdktf/provider-docker/lib/network';
import { TerraformStack, TerraformVariable } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { ILoadBalancerTarget, LoadBalancer, LoadBalancerMode, LoadBalancerProps, LoadBalancingAlgorithm } from '../src';
import { labels, newStack, synth, uploaded } from './support/synth';

const CONFIG = '/usr/local/etc/haproxy/haproxy.cfg';

function target(name: string): ILoadBalancerTarget {
  return { targetName: name, targetHost: `site-${name}`, targetPort: 80 };
}

function loadBalancer(stack: TerraformStack, props: Partial<LoadBalancerProps> = {}, targets = 3): LoadBalancer {
  const network = new Network(stack, 'front', { name: 'site-front' });
  const lb = new LoadBalancer(stack, 'lb', { containerName: 'site-lb', networks: [network], ...props });
  for (let i = 1; i <= targets; i++) lb.addTarget(target(`web-${i}`));
  return lb;
}

describe('LoadBalancer', () => {
  it('runs one HAProxy container that publishes only its port, on the given networks', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    loadBalancer(stack);
    // THEN
    const out = synth(stack);
    const lb = out.named('docker_container', 'site-lb');
    expect(lb.ports).toEqual([{ internal: 8080, external: 8080, ip: '0.0.0.0', protocol: 'tcp' }]);
    expect(lb.networks_advanced).toEqual([{ name: '${docker_network.front.id}' }]);
    expect(lb.image).toMatch(/^\$\{docker_image\..*\.image_id\}$/);
    expect(out.resources('docker_image')).toEqual([expect.objectContaining({ name: 'haproxy:3.0.5', keep_locally: true })]);
    expect(lb).toMatchObject({ wait: true, restart: 'unless-stopped', destroy_grace_seconds: 10, log_driver: 'json-file' });
  });

  it('renders every target into haproxy.cfg, round robin and active-active by default', () => {
    const stack = newStack();
    loadBalancer(stack);
    const cfg = uploaded(synth(stack).named('docker_container', 'site-lb'), CONFIG);
    expect(cfg).toContain('balance roundrobin');
    expect(cfg).toContain('server web-1 site-web-1:80\n');
    expect(cfg).toContain('server web-3 site-web-3:80\n');
    expect(cfg).not.toContain('backup');
    expect(cfg).toContain('bind :8080');
    expect(cfg).toContain('http-check send meth GET uri /healthz');
    expect(cfg).toContain('default-server check inter 2s rise 2 fall 3 observe layer4 error-limit 3 on-error mark-down resolvers docker');
    expect(cfg).toContain('timeout connect 1s\n');
  });

  it('counts targets added after construction (the config is rendered at synthesis)', () => {
    const stack = newStack();
    const lb = loadBalancer(stack, {}, 1);
    lb.addTarget(target('late'));
    const cfg = uploaded(synth(stack).named('docker_container', 'site-lb'), CONFIG);
    expect(cfg).toContain('server late site-late:80');
    expect(lb.targetNames).toEqual(['web-1', 'late']);
  });

  it('makes the last passiveServers targets backups in ACTIVE_PASSIVE mode', () => {
    const stack = newStack();
    const lb = loadBalancer(stack, { mode: LoadBalancerMode.ACTIVE_PASSIVE, passiveServers: 2 }, 4);
    const cfg = uploaded(synth(stack).named('docker_container', 'site-lb'), CONFIG);
    expect(cfg).toContain('server web-2 site-web-2:80\n');
    expect(cfg).toContain('server web-3 site-web-3:80 backup');
    expect(cfg).toContain('server web-4 site-web-4:80 backup');
    expect(cfg).toContain('option allbackups');
    expect(lb.activeTargetNames).toEqual(['web-1', 'web-2']);
  });

  it('defaults to one backup in ACTIVE_PASSIVE mode', () => {
    const stack = newStack();
    const lb = loadBalancer(stack, { mode: LoadBalancerMode.ACTIVE_PASSIVE });
    expect(lb.passiveServers).toBe(1);
    expect(lb.activeTargetNames).toEqual(['web-1', 'web-2']);
  });

  it.each([
    [LoadBalancingAlgorithm.LEAST_CONNECTIONS, 'balance leastconn'],
    [LoadBalancingAlgorithm.SOURCE, 'balance source'],
  ])('renders the %s algorithm', (algorithm, line) => {
    const stack = newStack();
    loadBalancer(stack, { algorithm });
    expect(uploaded(synth(stack).named('docker_container', 'site-lb'), CONFIG)).toContain(line);
  });

  it('publishes on the given host address and port, and applies health-check, timeout and retry options', () => {
    const stack = newStack();
    loadBalancer(stack, {
      port: 18080,
      hostAddress: '127.0.0.1',
      healthCheck: { path: '/ready', intervalSeconds: 1, rise: 1, fall: 2, timeoutSeconds: 0.5 },
      timeouts: { serverSeconds: 90 },
      retries: 5,
    });
    const lb = synth(stack).named('docker_container', 'site-lb');
    expect(lb.ports).toEqual([{ internal: 8080, external: 18080, ip: '127.0.0.1', protocol: 'tcp' }]);
    const cfg = uploaded(lb, CONFIG);
    expect(cfg).toContain('uri /ready ');
    expect(cfg).toContain('check inter 1s rise 1 fall 2');
    expect(cfg).toContain('timeout check 500ms');
    expect(cfg).toContain('timeout server 90s');
    expect(cfg).toContain('retries 5');
  });

  it('probes its own monitor frontend over TCP and labels the probe hash', () => {
    const stack = newStack();
    loadBalancer(stack);
    const lb = synth(stack).named('docker_container', 'site-lb');
    expect(lb.healthcheck.test.join(' ')).toContain('/dev/tcp/127.0.0.1/8404');
    expect(lb.healthcheck.interval).toBe('2s');
    expect(labels(lb)['io.cdktf-distributed-web.healthcheck-hash']).toMatch(/^[0-9a-f]{16}$/);
  });

  it('serves Prometheus metrics always and the stats page only with a password, which stays out of the file', () => {
    const plain = newStack();
    loadBalancer(plain);
    const without = synth(plain).named('docker_container', 'site-lb');
    expect(uploaded(without, CONFIG)).toContain('http-request use-service prometheus-exporter if { path /metrics }');
    expect(uploaded(without, CONFIG)).not.toContain('stats enable');
    expect(without.env).toBeUndefined();

    const stack = newStack();
    const secret = new TerraformVariable(stack, 'stats', { type: 'string', sensitive: true });
    const lb = loadBalancer(stack, { statsPassword: secret.stringValue });
    const container = synth(stack).named('docker_container', 'site-lb');
    expect(uploaded(container, CONFIG)).toContain('stats auth "admin:${HAPROXY_STATS_PASSWORD}"');
    expect(container.env).toEqual(['HAPROXY_STATS_PASSWORD=${var.stats}']);
    expect(lb.statsEnabled).toBe(true);
  });

  it('terminates TLS: HTTPS published beside HTTP, the certificate uploaded as given, TLS 1.2 minimum, redirect, HSTS', () => {
    const stack = newStack();
    const pem = new TerraformVariable(stack, 'tls_pem', { type: 'string', sensitive: true });
    const lb = loadBalancer(stack, { hostAddress: '127.0.0.1', tls: { certificatePem: pem.stringValue } });
    const container = synth(stack).named('docker_container', 'site-lb');
    expect(container.ports).toEqual([
      { internal: 8080, external: 8080, ip: '127.0.0.1', protocol: 'tcp' },
      { internal: 8443, external: 8443, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
    expect(container.upload).toContainEqual({ file: '/usr/local/etc/haproxy/certs/site.pem', content: '${var.tls_pem}', permissions: '0644' });
    const cfg = uploaded(container, CONFIG);
    expect(cfg).toContain('bind :8443 ssl crt /usr/local/etc/haproxy/certs/site.pem');
    expect(cfg).toContain('ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets');
    expect(cfg).toContain('http-request redirect scheme https code 301 unless { ssl_fc }');
    expect(cfg).toContain('Strict-Transport-Security "max-age=15552000"');
    expect(cfg).toContain('X-Forwarded-Proto https if { ssl_fc }');
    expect(lb.tls).toEqual({ port: 8443, redirectHttp: true, hstsMaxAgeSeconds: 15552000 });
  });

  it('can keep plain HTTP beside HTTPS and send no HSTS', () => {
    const stack = newStack();
    loadBalancer(stack, { tls: { certificatePem: 'PEM', redirectHttp: false, hstsMaxAgeSeconds: 0, port: 9443 } });
    const cfg = uploaded(synth(stack).named('docker_container', 'site-lb'), CONFIG);
    expect(cfg).not.toContain('redirect scheme https');
    expect(cfg).not.toContain('Strict-Transport-Security');
  });

  it('filters clients: allowlist (403), rate limit per source (429), body size (413)', () => {
    const stack = newStack();
    const lb = loadBalancer(stack, { allowedSourceCidrs: ['203.0.113.0/24', '2001:db8::/32'], rateLimit: { requests: 50 }, maxRequestBodyMegabytes: 2 });
    const cfg = uploaded(synth(stack).named('docker_container', 'site-lb'), CONFIG);
    expect(cfg).toContain('acl allowed_source src 203.0.113.0/24 2001:db8::/32');
    expect(cfg).toContain('http-request deny deny_status 403 unless allowed_source');
    expect(cfg).toContain('stick-table type ipv6 size 100k expire 10s store http_req_rate(10s)');
    expect(cfg).toContain('http-request deny deny_status 429 if { sc_http_req_rate(0) gt 50 }');
    expect(cfg).toContain('http-request deny deny_status 413 if { req.hdr_val(content-length) gt 2097152 }');
    expect(lb.rateLimit).toEqual({ requests: 50, windowSeconds: 10 });
  });

  it('lets every client in, without a rate limit, and limits bodies to 10 MiB by default', () => {
    const stack = newStack();
    loadBalancer(stack);
    const container = synth(stack).named('docker_container', 'site-lb');
    const cfg = uploaded(container, CONFIG);
    expect(cfg).not.toContain('allowed_source');
    expect(cfg).not.toContain('stick-table');
    expect(cfg).toContain('gt 10485760 }');
    expect(container.capabilities).toEqual({ drop: ['ALL'] });
    expect(container.security_opts).toEqual(['no-new-privileges:true']);
  });

  it('logs only what went wrong unless every request is asked for', () => {
    const quiet = newStack();
    loadBalancer(quiet);
    expect(uploaded(synth(quiet).named('docker_container', 'site-lb'), CONFIG)).toContain('option dontlog-normal');
    const verbose = newStack();
    const lb = loadBalancer(verbose, { logEveryRequest: true });
    expect(lb.logEveryRequest).toBe(true);
    expect(uploaded(synth(verbose).named('docker_container', 'site-lb'), CONFIG)).not.toContain('dontlog-normal');
  });

  it('accepts a port from a Terraform variable', () => {
    const stack = newStack();
    const port = new TerraformVariable(stack, 'port', { type: 'number' });
    loadBalancer(stack, { port: port.numberValue });
    expect(synth(stack).named('docker_container', 'site-lb').ports[0].external).toBe('${var.port}');
  });

  describe('validation', () => {
    const cases: [string, Partial<LoadBalancerProps>, RegExp][] = [
      ['port is 0', { port: 0 }, /test\/lb: 'port' must be an integer from 1 to 65535, got 0/],
      ['port is above 65535', { port: 70000 }, /'port' must be an integer from 1 to 65535, got 70000/],
      ['the algorithm is unknown', { algorithm: 'random' as LoadBalancingAlgorithm }, /'algorithm' must be one of ROUND_ROBIN \("roundrobin"\).*got "random"/],
      ['the mode is unknown', { mode: 'hot-standby' as LoadBalancerMode }, /'mode' must be one of .*ACTIVE_PASSIVE.*got "hot-standby"/],
      ['passiveServers is set in ACTIVE_ACTIVE mode', { passiveServers: 1 }, /'passiveServers' is only allowed with mode ACTIVE_PASSIVE, got 1/],
      ['passiveServers is 0 in ACTIVE_PASSIVE mode', { mode: LoadBalancerMode.ACTIVE_PASSIVE, passiveServers: 0 }, /'passiveServers' must be an integer from 1 to 63, got 0/],
      ['the health-check interval is 0', { healthCheck: { intervalSeconds: 0 } }, /'healthCheck.intervalSeconds' must be a number greater than 0 and at most 3600, got 0/],
      ['the health-check interval is negative', { healthCheck: { intervalSeconds: -2 } }, /'healthCheck.intervalSeconds'.*got -2/],
      ['fall is fractional', { healthCheck: { fall: 1.5 } }, /'healthCheck.fall' must be an integer from 1 to 100, got 1.5/],
      ['the health-check path is relative', { healthCheck: { path: 'healthz' } }, /'healthCheck.path' must be an absolute URL path.*got "healthz"/],
      ['the health-check path has a template sequence', { healthCheck: { path: '/%{x}' } }, /'healthCheck.path'/],
      ["the health-check path has a quote (haproxy.cfg would not parse)", { healthCheck: { path: "/it's" } }, /'healthCheck.path' must be an absolute URL path such as "\/healthz" \(letters, digits and \. _ ~ \/ - only\), got "\/it's"/],
      ['the host address is not an IPv4 address', { hostAddress: 'localhost' }, /'hostAddress' must be an IPv4 address.*got "localhost"/],
      ['the container name is empty', { containerName: '' }, /'containerName' must be a lower-case DNS label.*got ""/],
      ['the image is not an image reference', { image: 'HAProxy Latest' }, /'image' must be a Docker image reference.*got "HAProxy Latest"/],
      ['a timeout is 0', { timeouts: { clientSeconds: 0 } }, /'timeouts.clientSeconds' must be a number greater than 0/],
      ['retries is negative', { retries: -1 }, /'retries' must be an integer from 0 to 10, got -1/],
      ['the stats password is empty', { statsPassword: '' }, /'statsPassword' must be a non-empty string, got ""/],
      ['the certificate is empty', { tls: { certificatePem: '' } }, /'tls.certificatePem' must be a non-empty string, got ""/],
      ['the HTTPS port is the HTTP port', { port: 8443, tls: { certificatePem: 'PEM' } }, /'tls.port' must differ from 'port', both are 8443/],
      ['the HTTPS port is out of range', { tls: { certificatePem: 'PEM', port: 0 } }, /'tls.port' must be an integer from 1 to 65535, got 0/],
      ['HSTS is negative', { tls: { certificatePem: 'PEM', hstsMaxAgeSeconds: -1 } }, /'tls.hstsMaxAgeSeconds' must be an integer from 0 to 63072000, got -1/],
      ['the allowlist is empty', { allowedSourceCidrs: [] }, /'allowedSourceCidrs' must list at least one network \(omit it to allow every client\), got \[\]/],
      ['an allowlist entry is not a CIDR', { allowedSourceCidrs: ['10.0.0.0/8', 'example.com'] }, /'allowedSourceCidrs\[1\]' must be a CIDR.*got "example.com"/],
      ['the rate limit is 0', { rateLimit: { requests: 0 } }, /'rateLimit.requests' must be an integer from 1 to 1000000, got 0/],
      ['the body limit is 0', { maxRequestBodyMegabytes: 0 }, /'maxRequestBodyMegabytes' must be an integer from 1 to 10240, got 0/],
      ['logEveryRequest is not a boolean', { logEveryRequest: 'yes' as unknown as boolean }, /test\/lb: 'logEveryRequest' must be true or false, got "yes"/],
      ['the container health-check interval is 0', { containerHealthCheck: { intervalSeconds: 0 } }, /'containerHealthCheck.intervalSeconds'.*got 0/],
    ];
    it.each(cases)('fails when %s', (_name, props, message) => {
      expect(() => loadBalancer(newStack(), props)).toThrow(message);
    });

    it('fails at synthesis when passiveServers is not less than the servers', () => {
      const stack = newStack();
      loadBalancer(stack, { mode: LoadBalancerMode.ACTIVE_PASSIVE, passiveServers: 3 }, 3);
      expect(() => synth(stack)).toThrow(/test\/lb: 'passiveServers' must be less than the number of servers \(3\), got 3/);
    });

    it('fails at synthesis when there are no targets', () => {
      const stack = newStack();
      loadBalancer(stack, {}, 0);
      expect(() => synth(stack)).toThrow(/the load balancer has no targets/);
    });

    it('fails when a target name is added twice', () => {
      const lb = loadBalancer(newStack(), {}, 1);
      expect(() => lb.addTarget(target('web-1'))).toThrow(/a target named "web-1" was already added/);
    });
  });
});
