import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, configToToml, ConfigError } from './config/load.js';
import { defaultConfig } from './config/defaults.js';
import { createLogger } from './log/index.js';
import { startDaemon, packageVersion } from './daemon.js';
import { imagesCli } from './cri/image/admin-client.js';
import { rootlesskitArgs, rootlessPaths, rootlessSide, ROOTLESS_CHILD_ENV, type RootlessPaths } from './config/rootless.js';
import { prepareRootlessChild, readUidMap, realDir, runUnderRootlesskit } from './sys/rootless.js';
import { withoutTurbofan } from './sys/turbofan.js';
import { rootlesskitApiSocket } from './sys/rootlesskit-api.js';

const USAGE = `usage: fune <command> [flags]

commands:
  daemon                 run the CRI daemon in the foreground
  images ls|pull|rm|import  manage images through the running daemon (fune images --help)
  config default         print the default configuration as TOML
  --version              print fune's version

daemon flags:
  --config FILE          TOML configuration file (default /etc/fune/config.toml; absent = defaults)
  --root DIR             persistent state directory (default /var/lib/fune)
  --state DIR            runtime state directory (default /run/fune)
  --listen SOCKET        CRI unix socket path (default /run/fune/fune.sock)
  --log-level LEVEL      trace, debug, info, warn, error, fatal or silent (default info)
  --rootless             run as a normal user: re-exec under rootlesskit (user, mount and network namespaces);
                         defaults: --config ~/.config/fune/config.toml, --root ~/.local/share/fune,
                         --state $XDG_RUNTIME_DIR/fune, --listen $XDG_RUNTIME_DIR/fune/fune.sock
`;

function fail(message: string, code = 1): never {
  process.stderr.write(`fune: ${message}\n`);
  process.exit(code);
}

async function daemon(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      root: { type: 'string' },
      state: { type: 'string' },
      listen: { type: 'string' },
      'log-level': { type: 'string' },
      rootless: { type: 'boolean' },
    },
    strict: true,
  });
  let defaults: Partial<RootlessPaths> = {};
  if (values.rootless) {
    const side = rootlessSide(process.geteuid?.() ?? 0, await readUidMap());
    if (side === 'root') fail('--rootless is for a normal user; as real root, run `fune daemon` without it');
    const env = process.env;
    // Inside a user namespace fune did not make (a kind node) the usual defaults stay: there it is root of its node.
    if (side === 'parent' || env[ROOTLESS_CHILD_ENV] === '1') {
      defaults = rootlessPaths({ uid: process.getuid?.() ?? 0, home: env.HOME, xdgRuntimeDir: env.XDG_RUNTIME_DIR, xdgDataHome: env.XDG_DATA_HOME, xdgConfigHome: env.XDG_CONFIG_HOME });
    }
    if (side === 'parent') {
      const rkArgs = rootlesskitArgs({
        stateDir: defaults.rootlesskitState!,
        net: env.FUNE_ROOTLESSKIT_NET || undefined,
        extra: (env.FUNE_ROOTLESSKIT_FLAGS ?? '').split(/\s+/).filter(Boolean),
      }, [process.execPath, ...process.execArgv, process.argv[1]!, 'daemon', ...args]);
      const code = await runUnderRootlesskit({ rootlesskit: env.FUNE_ROOTLESSKIT || 'rootlesskit', args: rkArgs, env: { ...env, [ROOTLESS_CHILD_ENV]: '1' } });
      process.exit(code);
    }
    await prepareRootlessChild();
    if (defaults.state) defaults.state = await realDir(defaults.state);
    if (defaults.root) defaults.root = await realDir(defaults.root);
  }
  const config = loadConfig({
    config: values.config ?? (defaults.config && existsSync(defaults.config) ? defaults.config : undefined),
    root: values.root ?? defaults.root,
    state: values.state ?? defaults.state,
    listen: values.listen ?? defaults.socket,
    logLevel: values['log-level'],
  }, defaults.config && !values.config && !existsSync(defaults.config) ? '' : undefined);
  const log = createLogger(config.log.level);
  const d = await startDaemon(config, log, { rootlesskitApi: rootlesskitApiSocket(process.env) });
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'signal received');
    d.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case '--version':
    case 'version':
      process.stdout.write(`fune ${packageVersion()}\n`);
      return;
    case 'daemon':
      // The daemon's start-up up to "fune is ready" (and the rootless parent, which only waits for its child) runs
      // with Turbofan off, as loading the modules does: loading made Node's path helpers hot, and the start-up's own
      // path work would have them optimised at once (see withoutTurbofan). The calls have it on.
      return withoutTurbofan(() => daemon(rest));
    case 'images':
      process.exitCode = await imagesCli(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      return;
    case 'config':
      if (rest[0] === 'default') {
        process.stdout.write(configToToml(defaultConfig()));
        return;
      }
      return fail(`unknown config command ${JSON.stringify(rest[0] ?? '')}\n${USAGE}`, 2);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      return fail(`unknown command ${JSON.stringify(cmd)}\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof ConfigError) fail(e.message);
  fail(e instanceof Error ? e.message : String(e));
});
