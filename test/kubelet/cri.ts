// The kubelet's CRI client (1.22: pkg/kubelet/cri/remote/remote_runtime.go and remote_image.go; 1.34:
// k8s.io/cri-client/pkg): its deadlines per call (runtimeRequestTimeout 2 min; twice that for RunPodSandbox; the
// grace period or probe timeout on top for StopContainer and ExecSync; none for an ExecSync without timeout), the
// checks it makes on answers (verifySandboxStatus, verifyContainerStatus), and IsNotFound. Every call is recorded so
// that a test can assert the sequence the kubelet sent.
import { criClient, grpc, type CriClient } from '../helpers/daemon.js';
import type { KubeletVersion } from './version.js';

/** RUNTIME_REQUEST_TIMEOUT_MS is the kubelet's --runtime-request-timeout default (2 minutes). */
export const RUNTIME_REQUEST_TIMEOUT_MS = 120_000;

/** Call is one request as sent. */
export interface Call {
  verb: string;
  req: Record<string, any>;
  code?: number;
}

/** isNotFound mirrors k8s.io/cri-api/pkg/errors IsNotFound: the gRPC status code is NotFound. */
export function isNotFound(e: unknown): boolean {
  return (e as grpc.ServiceError)?.code === grpc.status.NOT_FOUND;
}

/** codeOf gives the gRPC code of a failed call. */
export function codeOf(e: unknown): number | undefined {
  return (e as grpc.ServiceError)?.code;
}

/** verifySandboxStatus mirrors remote/utils.go verifySandboxStatus: the fields the kubelet cannot do without. */
export function verifySandboxStatus(s: Record<string, any>): void {
  if (!s.id) throw new Error('status.Id is not set');
  if (!s.metadata) throw new Error('status.Metadata is not set');
  if (!s.metadata.name || !s.metadata.namespace || !s.metadata.uid) throw new Error('metadata.Name, metadata.Namespace or metadata.Uid is not in metadata');
  if (!Number(s.created_at)) throw new Error('status.CreatedAt is not set');
}

/** verifyContainerStatus mirrors remote/utils.go verifyContainerStatus. */
export function verifyContainerStatus(s: Record<string, any>): void {
  if (!s.id) throw new Error('status.Id is not set');
  if (!s.metadata) throw new Error('status.Metadata is not set');
  if (!s.metadata.name) throw new Error('metadata.Name is not in metadata');
  if (!Number(s.created_at)) throw new Error('status.CreatedAt is not set');
  if (!s.image?.image) throw new Error('status.Image is not set');
  if (!s.image_ref) throw new Error('status.ImageRef is not set');
}

/** KubeletCri is one kubelet's connection to the runtime: RuntimeService and ImageService on the same socket. */
export class KubeletCri {
  readonly calls: Call[] = [];
  private runtime: CriClient;
  private images: CriClient;

  constructor(readonly kubelet: KubeletVersion, socket: string) {
    const authority = kubelet.authority(socket);
    this.runtime = criClient(socket, kubelet.api, 'RuntimeService', { authority });
    this.images = criClient(socket, kubelet.api, 'ImageService', { authority });
  }

  close(): void {
    this.runtime.close();
    this.images.close();
  }

  /** rpc sends one request with the kubelet's deadline and records it (with its gRPC code when it fails). */
  async rpc<T = any>(verb: string, req: Record<string, any>, deadlineMs = RUNTIME_REQUEST_TIMEOUT_MS): Promise<T> {
    const call: Call = { verb, req };
    this.calls.push(call);
    const image = ['PullImage', 'ImageStatus', 'ListImages', 'RemoveImage', 'ImageFsInfo'].includes(verb);
    try {
      return await (image ? this.images : this.runtime).call<T>(verb, req, { deadlineMs });
    } catch (e) {
      call.code = codeOf(e);
      throw e;
    }
  }

  /** verbs gives the verbs sent since call number `from`. */
  verbs(from = 0): string[] {
    return this.calls.slice(from).map((c) => c.verb);
  }

  /** version sends kubeRuntimeAPIVersion, "0.1.0", in both versions. */
  version = () => this.rpc('Version', { version: '0.1.0' });
  status = () => this.rpc('Status', { verbose: false });
  runtimeConfig = () => this.rpc('RuntimeConfig', {});

  /** runPodSandbox: "2 times longer timeout for sandbox operation (4 mins by default)". */
  runPodSandbox = async (config: object): Promise<string> => (await this.rpc('RunPodSandbox', { config, runtime_handler: '' }, 2 * RUNTIME_REQUEST_TIMEOUT_MS)).pod_sandbox_id;
  stopPodSandbox = (id: string) => this.rpc('StopPodSandbox', { pod_sandbox_id: id });
  removePodSandbox = (id: string) => this.rpc('RemovePodSandbox', { pod_sandbox_id: id });

  /** podSandboxStatus (verbose false) with verifySandboxStatus on the answer. */
  async podSandboxStatus(id: string): Promise<Record<string, any>> {
    const r = await this.rpc('PodSandboxStatus', { pod_sandbox_id: id, verbose: false });
    if (r.status) verifySandboxStatus(r.status);
    return r.status;
  }

  /** listPodSandbox: a nil filter for PLEG's GetPods, a label selector for getSandboxIDByPodUID. */
  listPodSandbox = async (filter: object | null): Promise<Record<string, any>[]> => (await this.rpc('ListPodSandbox', filter ? { filter } : {})).items;

  /**
   * createContainer: fune's runtime.v1 proto types KeyValue.value as bytes where cri-api has a string (the same
   * bytes on the wire), so the suite's v1 client hands the env values over as buffers.
   */
  createContainer = async (podId: string, config: Record<string, any>, sandboxConfig: object): Promise<string> => {
    const wire = this.kubelet.api === 'v1' ? { ...config, envs: (config.envs as { key: string; value: string }[]).map((e) => ({ key: e.key, value: Buffer.from(e.value) })) } : config;
    return (await this.rpc('CreateContainer', { pod_sandbox_id: podId, config: wire, sandbox_config: sandboxConfig })).container_id;
  };
  startContainer = (id: string) => this.rpc('StartContainer', { container_id: id });
  /** stopContainer: "timeout + default timeout (2 minutes) as timeout to leave extra time". */
  stopContainer = (id: string, timeout: number) => this.rpc('StopContainer', { container_id: id, timeout }, RUNTIME_REQUEST_TIMEOUT_MS + timeout * 1000);
  removeContainer = (id: string) => this.rpc('RemoveContainer', { container_id: id });
  listContainers = async (filter: object): Promise<Record<string, any>[]> => (await this.rpc('ListContainers', { filter })).containers;

  /** containerStatus (verbose false, as GetPodStatus and the log manager ask) with verifyContainerStatus. */
  async containerStatus(id: string): Promise<Record<string, any>> {
    const r = await this.rpc('ContainerStatus', { container_id: id, verbose: false });
    if (r.status) verifyContainerStatus(r.status);
    return r.status;
  }

  /** execSync: no deadline at all when timeout is 0 (hooks), else runtimeRequestTimeout plus the timeout. */
  execSync = (id: string, cmd: string[], timeoutSec: number) =>
    this.rpc('ExecSync', { container_id: id, cmd, timeout: timeoutSec }, timeoutSec === 0 ? 24 * 3600_000 : RUNTIME_REQUEST_TIMEOUT_MS + timeoutSec * 1000);

  imageStatus = async (image: object): Promise<Record<string, any> | null> => (await this.rpc('ImageStatus', { image, verbose: false })).image ?? null;
  pullImage = async (image: object, sandboxConfig: object): Promise<string> => (await this.rpc('PullImage', { image, auth: null, sandbox_config: sandboxConfig })).image_ref;
  listImages = async (): Promise<Record<string, any>[]> => (await this.rpc('ListImages', {})).images;
  removeImage = (image: object) => this.rpc('RemoveImage', { image });
}
