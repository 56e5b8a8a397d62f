import type { ImageFsInfoRequest__Output } from '../generated/v1/runtime/v1/ImageFsInfoRequest.js';
import type { ImageFsInfoResponse } from '../generated/v1/runtime/v1/ImageFsInfoResponse.js';
import type { ImageService } from '../../services/image-service.js';
import { unary } from '../rpc.js';

/**
 * imageFsInfo answers ImageFsInfo with the bytes and inodes fune's image directory really takes (blobs, layers,
 * container writable layers), and the mount point it is on, so that kubelet image GC sees true numbers. The
 * writable layers live in the same directory, so `container_filesystems` reports the same filesystem: a kubelet
 * with split image filesystems (KEP-4191) sees identical mount points and treats the node as not split.
 */
export const imageFsInfo = (images: ImageService) =>
  unary<ImageFsInfoRequest__Output, ImageFsInfoResponse>('ImageFsInfo', 'trace', async () => {
    const u = await images.fsInfo();
    const fs = {
      timestamp: String(BigInt(u.timestamp) * 1_000_000n),
      fs_id: { mountpoint: u.mountpoint },
      used_bytes: { value: String(u.bytes) },
      inodes_used: { value: String(u.inodes) },
    };
    return { image_filesystems: [fs], container_filesystems: [{ ...fs }] };
  });
