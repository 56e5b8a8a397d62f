import { isDigest } from './reference.js';

/** MediaTypes fune reads: Docker schema 2 and OCI image-spec v1. */
export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
} as const;

/** MANIFEST_ACCEPT is the Accept header of a manifest request: every kind fune can read. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', ');

/** Descriptor points at a blob by digest (OCI image-spec "descriptor.md"). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** Platform is the os/architecture/variant an index entry is built for. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Manifest is a single-platform image manifest (Docker schema 2 or OCI). */
export interface Manifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** Index is a manifest list or OCI index: one manifest per platform. */
export interface Index {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

/** ImageConfigFile is the part of an image config blob fune reads (OCI image-spec "config.md"). */
export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    StopSignal?: string;
    Volumes?: Record<string, unknown> | null;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
  };
  rootfs?: { type?: string; diff_ids?: string[] };
}

function descriptor(raw: unknown, what: string): Descriptor {
  const d = raw as Partial<Descriptor> | null;
  if (!d || typeof d.digest !== 'string' || !isDigest(d.digest)) throw new Error(`${what}: missing or unsupported digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new Error(`${what}: bad size`);
  return { mediaType: typeof d.mediaType === 'string' ? d.mediaType : '', digest: d.digest, size: d.size, platform: d.platform, annotations: d.annotations };
}

/**
 * parseManifest reads a manifest or index body. The media type comes from the body, else from the
 * Content-Type the registry sent. Anything else (schema 1, unknown types) is an error.
 */
export function parseManifest(body: Buffer, contentType = ''): Manifest | Index {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error('manifest is not JSON');
  }
  const ct = contentType.split(';')[0]!.trim();
  const mediaType = typeof doc.mediaType === 'string' && doc.mediaType ? doc.mediaType : ct;
  const isIndex = mediaType === MT.dockerList || mediaType === MT.ociIndex || (!mediaType && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new Error('index has no manifests');
    return { kind: 'index', mediaType: mediaType || MT.ociIndex, manifests: doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`)) };
  }
  const isManifest = mediaType === MT.dockerManifest || mediaType === MT.ociManifest || (!mediaType && doc.config !== undefined);
  if (!isManifest) throw new Error(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
  if (!Array.isArray(doc.layers)) throw new Error('manifest has no layers');
  return {
    kind: 'manifest',
    mediaType: mediaType || MT.ociManifest,
    config: descriptor(doc.config, 'config'),
    layers: doc.layers.map((l, i) => descriptor(l, `layers[${i}]`)),
  };
}

/** hostPlatform maps Node's process.arch to the OCI platform of this host. */
export function hostPlatform(arch: string, os = 'linux'): Platform {
  const map: Record<string, Platform> = {
    x64: { os, architecture: 'amd64' },
    arm64: { os, architecture: 'arm64', variant: 'v8' },
    arm: { os, architecture: 'arm', variant: 'v7' },
    ia32: { os, architecture: '386' },
    ppc64: { os, architecture: 'ppc64le' },
    s390x: { os, architecture: 's390x' },
    riscv64: { os, architecture: 'riscv64' },
  };
  return map[arch] ?? { os, architecture: arch };
}

function variantScore(want: Platform, got: Platform): number {
  const w = want.variant ?? '';
  const g = got.variant ?? '';
  if (w === g) return 3;
  if (want.architecture === 'arm64' && (g === '' || g === 'v8')) return 3;
  if (want.architecture === 'arm' && g && w && g < w) return 1; // an older ARM variant runs on a newer CPU
  if (g === '') return 2;
  return 0;
}

/**
 * selectPlatform picks the manifest of an index that runs on `want`: same os and architecture, best variant,
 * the first on ties (containerd's platforms.Only ordering, simplified). Entries without a platform are skipped.
 */
export function selectPlatform(index: Index, want: Platform): Descriptor | undefined {
  let best: Descriptor | undefined;
  let bestScore = 0;
  for (const m of index.manifests) {
    const p = m.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) continue;
    if (m.mediaType && m.mediaType !== MT.dockerManifest && m.mediaType !== MT.ociManifest) continue;
    const s = variantScore(want, p);
    if (s > bestScore) {
      best = m;
      bestScore = s;
    }
  }
  return best;
}

/** parseConfig reads an image config blob and checks the fields fune depends on. */
export function parseConfig(body: Buffer): ImageConfigFile {
  let doc: ImageConfigFile;
  try {
    doc = JSON.parse(body.toString('utf8')) as ImageConfigFile;
  } catch {
    throw new Error('image config is not JSON');
  }
  const ids = doc.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && isDigest(d))) throw new Error('image config has no valid rootfs.diff_ids');
  return doc;
}
