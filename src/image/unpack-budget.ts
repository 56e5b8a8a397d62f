import { RuntimeError } from '../errors/index.js';

/** LayerMeter counts one layer's unpack against its image's budget. */
export interface LayerMeter {
  /** take is called before a file's content is written: `bytes` (its size in the tar header) at `entry`. */
  take(bytes: number, entry: string): void;
  /** done replaces what the layer took by its measured size on disk, once it is unpacked. */
  done(size: number): void;
}

/**
 * UnpackBudget bounds the unpacked size of one image (`registry.max_unpacked_size`): the bytes its distinct
 * layers take on disk, as ImageStatus reports them. A manifest gives only compressed sizes, so the bound cannot
 * be checked before a download; instead the layers present before the pull are charged at once, each file's size
 * is taken from its tar header before its content is written, and a finished layer's estimate is replaced by its
 * measured size. The first step that goes over the bound fails with RESOURCE_EXHAUSTED, and so does every later
 * step of the image's other layers: an unpack stops at the first file that does not fit, before writing it.
 */
export class UnpackBudget {
  private used = 0;
  private tripped: RuntimeError | undefined;

  constructor(
    readonly limit: number,
    private readonly image: string,
  ) {}

  private check(where: string): void {
    if (this.tripped) throw this.tripped;
    if (this.used <= this.limit) return;
    this.tripped = new RuntimeError(
      'ResourceExhausted',
      `image ${this.image} unpacks to more than registry.max_unpacked_size (${this.limit} bytes): stopped at ${where}, with ${this.used} bytes counted`,
    );
    throw this.tripped;
  }

  /** charge counts a layer that is on disk already (shared with another image). */
  charge(bytes: number, diffId: string): void {
    this.used += bytes;
    this.check(`layer ${diffId}, already stored`);
  }

  /** final checks the image's measured size (a layer another pull unpacked meanwhile was not metered here). */
  final(size: number): void {
    if (this.tripped) throw this.tripped;
    if (size <= this.limit) return;
    this.tripped = new RuntimeError('ResourceExhausted', `image ${this.image} unpacks to ${size} bytes, more than registry.max_unpacked_size (${this.limit} bytes)`);
    throw this.tripped;
  }

  /** meter gives the counter of one layer's unpack. */
  meter(diffId: string): LayerMeter {
    let taken = 0;
    return {
      take: (bytes, entry) => {
        this.used += bytes;
        taken += bytes;
        this.check(`layer ${diffId}, entry ${JSON.stringify(entry)}`);
      },
      done: (size) => {
        this.used += size - taken;
        taken = size;
        this.check(`layer ${diffId}`);
      },
    };
  }
}
