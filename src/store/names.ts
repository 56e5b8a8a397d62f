import { alreadyExists } from '../errors/index.js';

/**
 * NameIndex reserves object names (pod and container names) for ids. A name is reserved before any side effect
 * of a create and released when the create fails or the object is removed, so two concurrent creates of one name
 * cannot both proceed.
 */
export class NameIndex {
  private readonly byName = new Map<string, string>();

  constructor(private readonly what: string) {}

  /** reserve takes `name` for `id`; AlreadyExists when another id holds it (reserving it again for its id is fine). */
  reserve(name: string, id: string): void {
    const holder = this.byName.get(name);
    if (holder !== undefined && holder !== id) {
      throw alreadyExists(`${this.what} name ${JSON.stringify(name)} is already reserved for ${holder}`);
    }
    this.byName.set(name, id);
  }

  /** release frees `name` if `id` holds it. */
  release(name: string, id: string): void {
    if (this.byName.get(name) === id) this.byName.delete(name);
  }

  /** holder gives the id that holds `name`, if any. */
  holder(name: string): string | undefined {
    return this.byName.get(name);
  }
}
