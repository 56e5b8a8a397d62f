// Installs fune's default pod network (hack/cni/10-fune.conflist: bridge fune0, host-local IPAM on
// `[cni] default_subnet`, portmap; fune brings `lo` up itself) into `[cni] conf_dir`, but only when that
// directory holds no network configuration yet: an existing configuration is never overwritten or shadowed.
// Built with the sources; hack/setup.sh runs it as: node dist/hack/cni/install-default.js [--config FILE]
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { confFiles } from '../../src/network/cni-config.js';

/** TEMPLATE is the default conflist, with @DEFAULT_SUBNET@ where the subnet goes. */
const TEMPLATE = join(import.meta.dirname, '..', '..', '..', 'hack', 'cni', '10-fune.conflist');

/** installDefault writes the default conflist into `confDir` unless it has a configuration; it says what it did. */
export async function installDefault(confDir: string, subnet: string): Promise<string> {
  const existing = confFiles(confDir);
  if (existing.length > 0) return `${confDir} already has a network configuration (${existing.join(', ')}); leaving it alone`;
  const text = (await readFile(TEMPLATE, 'utf8')).replaceAll('@DEFAULT_SUBNET@', subnet);
  JSON.parse(text); // the template must stay valid JSON
  await mkdir(confDir, { recursive: true, mode: 0o755 });
  const target = join(confDir, '10-fune.conflist');
  // Written beside the target, then link(2)ed into place: link fails if the target appeared meanwhile.
  const tmp = join(confDir, `.10-fune.conflist.${process.pid}`);
  await writeFile(tmp, text, { mode: 0o644 });
  try {
    await link(tmp, target);
    return `installed the default pod network (bridge fune0, ${subnet}) as ${target}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return `${target} appeared meanwhile; leaving it alone`;
  } finally {
    await rm(tmp, { force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const i = process.argv.indexOf('--config');
  const cfg = loadConfig(i > 0 ? { config: process.argv[i + 1] } : {});
  console.error(`fune set-up: ${await installDefault(cfg.cni.conf_dir, cfg.cni.default_subnet)}`);
}
