/** Removes every container, network and volume of a name prefix: before a run and after it. */
import { docker } from './support';

export async function removeLeftovers(prefix: string): Promise<void> {
  const list = async (...args: string[]) => (await docker(...args)).split('\n').filter(Boolean);
  const containers = await list('ps', '-aq', '--filter', `name=^${prefix}-`);
  if (containers.length) await docker('rm', '-f', '-v', ...containers);
  const networks = await list('network', 'ls', '-q', '--filter', `name=^${prefix}-`);
  if (networks.length) await docker('network', 'rm', ...networks);
  const volumes = await list('volume', 'ls', '-q', '--filter', `name=^${prefix}-`);
  if (volumes.length) await docker('volume', 'rm', '-f', ...volumes);
}
