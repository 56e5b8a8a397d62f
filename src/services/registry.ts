import type { ContainerRecord } from '../domain/container.js';
import type { SandboxRecord } from '../domain/sandbox.js';
import { resolveId } from '../domain/ids.js';
import { isKind } from '../errors/index.js';
import { NameIndex } from '../store/names.js';
import { RecordStore } from '../store/record-store.js';
import { KeyedMutex } from './locks.js';

/**
 * Registry holds the pods and containers fune knows, in memory and on disk (one record each, written atomically
 * before a change is visible), with their reserved names and the per-id locks every mutation takes.
 */
export class Registry {
  readonly sandboxes = new Map<string, SandboxRecord>();
  readonly containers = new Map<string, ContainerRecord>();
  readonly sandboxNames = new NameIndex('pod sandbox');
  readonly containerNames = new NameIndex('container');
  readonly locks = new KeyedMutex();
  readonly sandboxStore: RecordStore<SandboxRecord>;
  readonly containerStore: RecordStore<ContainerRecord>;

  constructor(recordsDir: string) {
    this.sandboxStore = new RecordStore<SandboxRecord>(`${recordsDir}/sandboxes`, 'sandbox');
    this.containerStore = new RecordStore<ContainerRecord>(`${recordsDir}/containers`, 'container');
  }

  /** saveSandbox persists a pod record, then makes it visible. */
  async saveSandbox(r: SandboxRecord): Promise<void> {
    await this.sandboxStore.put(r.id, r);
    this.sandboxes.set(r.id, r);
  }

  /** saveContainer persists a container record, then makes it visible. */
  async saveContainer(r: ContainerRecord): Promise<void> {
    await this.containerStore.put(r.id, r);
    this.containers.set(r.id, r);
  }

  /**
   * holdContainer makes a container being created visible in memory only (to its pod's removal, to id lookups);
   * its record is written once it is complete, and a crash before that leaves nothing recovery needs a record for.
   */
  holdContainer(r: ContainerRecord): void {
    this.containers.set(r.id, r);
  }

  /** dropSandbox forgets a pod: record, name. */
  async dropSandbox(r: SandboxRecord): Promise<void> {
    await this.sandboxStore.delete(r.id);
    this.sandboxes.delete(r.id);
    this.sandboxNames.release(r.name, r.id);
  }

  /**
   * markRemoving makes a container's record a tombstone (durably: see RecordStore.tombstone), hidden from the CRI,
   * and frees its name; it gives the tombstone, which dropContainer forgets once the removal is done.
   */
  async markRemoving(r: ContainerRecord): Promise<ContainerRecord> {
    await this.containerStore.tombstone(r.id);
    const tomb: ContainerRecord = { ...r, phase: 'removing' };
    this.containers.set(r.id, tomb);
    this.containerNames.release(r.name, r.id);
    return tomb;
  }

  /** dropContainer forgets a container: record, name. */
  async dropContainer(r: ContainerRecord): Promise<void> {
    await this.containerStore.delete(r.id);
    this.containers.delete(r.id);
    this.containerNames.release(r.name, r.id);
  }

  /** sandboxId resolves a pod id or unique prefix among finished pods (NotFound otherwise). */
  sandboxId(idOrPrefix: string): string {
    if (this.sandboxes.get(idOrPrefix)?.phase === 'created') return idOrPrefix;
    return resolveId(this.visibleIds(this.sandboxes), idOrPrefix, 'pod sandbox');
  }

  /** containerId resolves a container id or unique prefix among finished containers (NotFound otherwise). */
  containerId(idOrPrefix: string): string {
    // A full id (what the kubelet always sends) is one map lookup; only a prefix walks every id.
    if (this.containers.get(idOrPrefix)?.phase === 'created') return idOrPrefix;
    return resolveId(this.visibleIds(this.containers), idOrPrefix, 'container');
  }

  /** findSandboxId is sandboxId, with undefined for an id that matches nothing (an ambiguous prefix still throws). */
  findSandboxId(idOrPrefix: string): string | undefined {
    return absentAsUndefined(() => this.sandboxId(idOrPrefix));
  }

  /** findContainerId is containerId, with undefined for an id that matches nothing (an ambiguous prefix still throws). */
  findContainerId(idOrPrefix: string): string | undefined {
    return absentAsUndefined(() => this.containerId(idOrPrefix));
  }

  private *visibleIds(m: Map<string, { phase: string }>): Iterable<string> {
    for (const [id, r] of m) if (r.phase === 'created') yield id;
  }

  /** containersOf lists the containers of a pod. */
  containersOf(sandboxId: string): ContainerRecord[] {
    return [...this.containers.values()].filter((c) => c.sandboxId === sandboxId);
  }
}

function absentAsUndefined(resolve: () => string): string | undefined {
  try {
    return resolve();
  } catch (e) {
    if (isKind(e, 'NotFound')) return undefined;
    throw e;
  }
}
