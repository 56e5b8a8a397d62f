import { describe, it, expect } from 'vitest';
import { parseReference, formatReference } from '../../../src/image/reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.28', 'docker.io/library/busybox:1.28'],
    ['index.docker.io/foo/bar', 'docker.io/foo/bar:latest'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['localhost/x', 'localhost/x:latest'],
    ['127.0.0.1:5000/a/b:t', '127.0.0.1:5000/a/b:t'],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`],
    ['host:5000/x', 'host:5000/x:latest'],
  ])('%s → %s', (i, o) => expect(formatReference(parseReference(i))).toBe(o));

  it.each(['', 'Upper', 'a/B', 'busybox:', 'busybox@sha256:abc', 'a:b:c', `busybox@md5:${'a'.repeat(32)}`, 'a'.repeat(64), 'host:port/x', '-a/b', 'a//b'])(
    'rejects %j as INVALID_ARGUMENT',
    (i) => expect(() => parseReference(i)).toThrow(expect.objectContaining({ kind: 'InvalidArgument' })),
  );
});
