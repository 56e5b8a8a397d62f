import type { SystemdBus, UnitProperty } from '../../src/sys/systemd-bus.js';

/** FakeSystemdBus records what fune asked systemd's manager, and can be told to fail. */
export class FakeSystemdBus implements SystemdBus {
  readonly calls: { method: string; name: string; props?: readonly UnitProperty[] }[] = [];
  fail?: Error;

  private record(method: string, name: string, props?: readonly UnitProperty[]): Promise<void> {
    this.calls.push({ method, name, ...(props ? { props } : {}) });
    return this.fail ? Promise.reject(this.fail) : Promise.resolve();
  }

  startTransientUnit(name: string, props: readonly UnitProperty[]): Promise<void> {
    return this.record('StartTransientUnit', name, props);
  }

  stopUnit(name: string): Promise<void> {
    return this.record('StopUnit', name);
  }

  setUnitProperties(name: string, props: readonly UnitProperty[]): Promise<void> {
    return this.record('SetUnitProperties', name, props);
  }
}
