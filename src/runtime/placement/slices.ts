import { invalidArgument } from '../../errors/index.js';

/**
 * Slice names, as systemd and runc's systemd driver spell them (pure). A slice's place in the tree is in its
 * name: `a-b-c.slice` lives at `/a.slice/a-b.slice/a-b-c.slice` (systemd.slice(5)); `-.slice` is the root.
 */

const SLICE = /^[A-Za-z0-9_.\\-]+\.slice$/;

/** isSliceName tells whether `name` is one slice's unit name that systemd and runc accept (no `/`, no empty part). */
export function isSliceName(name: string): boolean {
  if (name === '-.slice') return true;
  if (!SLICE.test(name) || name.length > 255) return false;
  return name.slice(0, -'.slice'.length).split('-').every((part) => part !== '');
}

/** expandSlice gives the cgroup path of a slice: `a-b.slice` → `/a.slice/a-b.slice`; the root slice is ''. */
export function expandSlice(slice: string): string {
  if (slice === '' || slice === '-.slice') return '';
  let path = '';
  let acc = '';
  for (const part of slice.slice(0, -'.slice'.length).split('-')) {
    acc = acc ? `${acc}-${part}` : part;
    path += `/${acc}.slice`;
  }
  return path;
}

/**
 * sliceOfParent takes a pod's cgroup parent as a kubelet with the systemd driver sends it, a path of slices
 * (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice`), or a bare slice name
 * (`kubepods.slice`, older tools), to the pod's slice: the last element, as containerd takes it. The path must be
 * where that slice really lives (its expansion), since runc places the scope by the name alone; anything else is
 * InvalidArgument naming the parent.
 */
export function sliceOfParent(parent: string): string {
  const bad = (why: string) => invalidArgument(`cgroup parent ${JSON.stringify(parent)} ${why}, as the systemd cgroup driver needs (like /kubepods.slice/kubepods-besteffort.slice)`);
  const trimmed = parent.replace(/\/+$/, '');
  const last = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  if (!isSliceName(last)) throw bad(`is not a systemd slice name or a path of slices`);
  if (trimmed.includes('/') && trimmed !== expandSlice(last)) throw bad(`is not the path of slice ${last} (${expandSlice(last) || '/'})`);
  return last;
}
