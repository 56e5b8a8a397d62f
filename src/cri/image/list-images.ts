import type { ListImagesRequest__Output } from '../generated/v1/runtime/v1/ListImagesRequest.js';
import type { ListImagesResponse } from '../generated/v1/runtime/v1/ListImagesResponse.js';
import type { ImageService } from '../../services/image-service.js';
import { unary } from '../rpc.js';

/** listImages answers ListImages, filtered by an image reference when the filter names one. */
export const listImages = (images: ImageService) =>
  unary<ListImagesRequest__Output, ListImagesResponse>('ListImages', 'trace', async (req) => ({
    images: images.list(req.filter?.image?.image || undefined),
  }));
