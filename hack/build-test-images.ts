// build-test-images: builds fune's test images from Debian's busybox-static (.deb fetched with apt-get download;
// no image is ever downloaded) and pushes them to a registry, or writes them as archives.
//
//   node dist/hack/build-test-images.js --registry 127.0.0.1:5000 [--user U --password P]
//   node dist/hack/build-test-images.js --out DIR        (writes busybox-oci.tar and busybox-docker.tar)
//
// Images: fune-test/busybox:latest (one layer), fune-test/multilayer:latest (busybox + 5 layers of 4 MB of
// incompressible data, for the pull benchmark), fune-test/multiarch:latest (an OCI index with amd64 and arm64).
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { busyboxEntries, makeTar, buildImage, buildIndex, noiseLayer, pushImage, pushIndex, ociArchive, dockerSaveArchive } from './test-images.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { registry: { type: 'string' }, out: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, layers: { type: 'string' } } });
  const base = await makeTar(busyboxEntries());
  const busybox = buildImage({ layers: [base] });
  const n = Number(values.layers ?? 5);
  const noise = [];
  for (let i = 0; i < n; i++) noise.push(await noiseLayer(`bench${i}`, 4, 1_000_000));
  const multi = buildImage({ layers: [base, ...noise] });
  const arm = buildImage({ layers: [base], architecture: 'arm64' });
  const index = buildIndex([{ image: arm, architecture: 'arm64', variant: 'v8' }, { image: busybox, architecture: 'amd64' }], true);
  if (values.registry) {
    const url = values.registry.includes('://') ? values.registry : `http://${values.registry}`;
    const auth = values.user ? { username: values.user, password: values.password ?? '' } : undefined;
    await pushImage(url, 'fune-test/busybox', 'latest', busybox, auth);
    await pushImage(url, 'fune-test/multilayer', 'latest', multi, auth);
    await pushIndex(url, 'fune-test/multiarch', 'latest', [arm, busybox], index, auth);
    process.stdout.write(`pushed fune-test/busybox:latest fune-test/multilayer:latest fune-test/multiarch:latest to ${url}\n`);
  }
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, 'busybox-oci.tar'), await ociArchive([{ ref: 'fune-test/busybox:latest', image: busybox }, { ref: 'fune-test/multilayer:latest', image: multi }]));
    const plain = buildImage({ layers: [base], compression: 'none' });
    writeFileSync(join(values.out, 'busybox-docker.tar'), await dockerSaveArchive([{ tags: ['fune-test/busybox:latest'], image: plain, rawLayers: [base] }]));
    process.stdout.write(`wrote ${values.out}/busybox-oci.tar and busybox-docker.tar\n`);
  }
  if (!values.registry && !values.out) process.stderr.write('usage: build-test-images --registry HOST:PORT | --out DIR\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`build-test-images: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
