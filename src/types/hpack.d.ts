// Type declarations for the parts of hpack.js (HPACK, RFC 7541) that fune uses.
declare module 'hpack.js' {
  import type { Duplex } from 'node:stream';
  export interface HeaderField {
    name: string;
    value: string;
    neverIndex?: boolean;
    huffman?: boolean;
  }
  interface TableOptions {
    table: { maxSize: number };
  }
  export interface Decompressor extends Duplex {
    execute(cb?: (err: Error | null) => void): void;
    updateTableSize(size: number): void;
  }
  export interface Compressor extends Duplex {
    updateTableSize(size: number): void;
  }
  const hpack: {
    decompressor: { create(o: TableOptions): Decompressor };
    compressor: { create(o: TableOptions): Compressor };
  };
  export default hpack;
}
