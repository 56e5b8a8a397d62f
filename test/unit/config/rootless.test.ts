import { describe, expect, it } from 'vitest';
import { rootlesskitArgs, rootlessPaths, rootlessSide } from '../../../src/config/rootless.js';
import { ConfigError } from '../../../src/config/load.js';

describe('rootlessPaths', () => {
  it('puts state and socket under $XDG_RUNTIME_DIR/fune, root under ~/.local/share/fune, the config under ~/.config/fune', () => {
    expect(rootlessPaths({ uid: 1000, home: '/home/u', xdgRuntimeDir: '/run/user/1000' })).toEqual({
      root: '/home/u/.local/share/fune',
      state: '/run/user/1000/fune',
      socket: '/run/user/1000/fune/fune.sock',
      config: '/home/u/.config/fune/config.toml',
      rootlesskitState: '/run/user/1000/fune-rootlesskit',
    });
  });

  it('follows XDG_DATA_HOME and XDG_CONFIG_HOME when they are set (HOME is then not needed)', () => {
    const p = rootlessPaths({ uid: 1000, xdgRuntimeDir: '/run/user/1000', xdgDataHome: '/data', xdgConfigHome: '/conf' });
    expect([p.root, p.config]).toEqual(['/data/fune', '/conf/fune/config.toml']);
  });

  it.each([
    ['no XDG_RUNTIME_DIR', { home: '/home/u' }, 'XDG_RUNTIME_DIR must be an absolute path'],
    ['a relative XDG_RUNTIME_DIR', { home: '/home/u', xdgRuntimeDir: 'run/user/1000' }, 'XDG_RUNTIME_DIR must be an absolute path'],
    ['no HOME and no XDG_DATA_HOME', { xdgRuntimeDir: '/run/user/1000' }, 'HOME must be an absolute path'],
  ])('refuses %s with a ConfigError that says what to set', (_what, env, message) => {
    let err: unknown;
    try {
      rootlessPaths({ uid: 1000, ...env });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(message);
  });
});

describe('rootlessSide', () => {
  const identity = '         0          0 4294967295\n';
  const rootlesskit = '         0       1000          1\n         1     100000      65536\n';
  it.each([
    [1000, identity, 'parent'],
    [0, identity, 'root'],
    [0, rootlesskit, 'child'],
    // a kind node: root of a user namespace someone else made
    [0, '0 100000 65536\n', 'child'],
    // no /proc/self/uid_map readable: judged by the uid alone
    [1000, '', 'parent'],
    [0, '', 'root'],
  ] as const)('uid %d with uid_map %j is the %s side', (uid, map, side) => expect(rootlessSide(uid, map)).toBe(side));
});

describe('rootlesskitArgs', () => {
  it('has containerd-rootless.sh\'s flags and ends with the command after --', () => {
    const args = rootlesskitArgs({ stateDir: '/run/user/1000/fune-rootlesskit' }, ['/usr/bin/node', 'main.js', 'daemon', '--rootless']);
    expect(args).toEqual([
      '--state-dir=/run/user/1000/fune-rootlesskit', '--net=slirp4netns', '--mtu=65520', '--slirp4netns-sandbox=auto', '--slirp4netns-seccomp=auto',
      '--disable-host-loopback', '--port-driver=builtin', '--copy-up=/etc', '--copy-up=/run', '--copy-up=/var/lib', '--propagation=rslave',
      '--', '/usr/bin/node', 'main.js', 'daemon', '--rootless',
    ]);
  });

  it('takes another network driver (no slirp4netns flags then) and extra flags before the command', () => {
    const args = rootlesskitArgs({ stateDir: '/s', net: 'pasta', mtu: 1500, extra: ['--cgroupns'] }, ['x']);
    expect(args).toContain('--net=pasta');
    expect(args).toContain('--mtu=1500');
    expect(args.filter((a) => a.startsWith('--slirp4netns'))).toEqual([]);
    expect(args.slice(-3)).toEqual(['--cgroupns', '--', 'x']);
  });
});
