import type { ImageStatusRequest__Output } from '../generated/v1/runtime/v1/ImageStatusRequest.js';
import type { ImageStatusResponse } from '../generated/v1/runtime/v1/ImageStatusResponse.js';
import type { ImageService } from '../../services/image-service.js';
import { unary } from '../rpc.js';

/** imageStatus answers ImageStatus: the image by id, tag or digest, or a null image when it is absent. */
export const imageStatus = (images: ImageService) =>
  unary<ImageStatusRequest__Output, ImageStatusResponse>(
    'ImageStatus',
    'trace',
    async (req) => images.status(req.image?.image ?? '', req.verbose),
    { ids: (req) => ({ image: req.image?.image }) },
  );
