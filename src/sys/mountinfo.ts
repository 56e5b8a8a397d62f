/** unescapeMountPath decodes the octal escapes (\040 for a space, …) of a mountinfo path. */
export function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** MountPoint is what fune needs to know of one mount: its filesystem type and whether it propagates (shared). */
export interface MountPoint {
  fstype: string;
  shared: boolean;
}

/** parseMountPoints gives the mount points of a mountinfo text (the last mount on a path wins). */
export function parseMountPoints(mountinfo: string): Map<string, MountPoint> {
  const out = new Map<string, MountPoint>();
  for (const line of mountinfo.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f.length < 5 || sep < 0) continue;
    const optional = f.slice(6, sep);
    out.set(unescapeMountPath(f[4]!), { fstype: f[sep + 1] ?? '', shared: optional.some((o) => o.startsWith('shared:')) });
  }
  return out;
}

/** containingMount gives the mount point under which `path` lies (the longest mount point prefix). */
export function containingMount(mounts: Map<string, MountPoint>, path: string): [string, MountPoint] | undefined {
  let best: [string, MountPoint] | undefined;
  for (const [m, info] of mounts) {
    const under = m === '/' || path === m || path.startsWith(m + '/');
    if (under && (!best || m.length > best[0].length)) best = [m, info];
  }
  return best;
}
