import type { RemoveImageRequest__Output } from '../generated/v1/runtime/v1/RemoveImageRequest.js';
import type { RemoveImageResponse } from '../generated/v1/runtime/v1/RemoveImageResponse.js';
import type { ImageService } from '../../services/image-service.js';
import { unary } from '../rpc.js';

/** removeImage answers RemoveImage: the image goes with all its tags; an absent image is not an error. */
export const removeImage = (images: ImageService) =>
  unary<RemoveImageRequest__Output, RemoveImageResponse>(
    'RemoveImage',
    'info',
    async (req, ctx) => {
      await images.remove(req.image?.image ?? '', ctx.log);
      return {};
    },
    { ids: (req) => ({ image: req.image?.image }) },
  );
