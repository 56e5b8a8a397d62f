import type { PullImageRequest__Output } from '../generated/v1/runtime/v1/PullImageRequest.js';
import type { PullImageResponse } from '../generated/v1/runtime/v1/PullImageResponse.js';
import type { ImageService } from '../../services/image-service.js';
import { unary } from '../rpc.js';

/** pullImage answers PullImage: fetch, verify, unpack and record an image; the reply names its id (config digest). */
export const pullImage = (images: ImageService) =>
  unary<PullImageRequest__Output, PullImageResponse>(
    'PullImage',
    'info',
    async (req, ctx) => ({ image_ref: await images.pull(req.image, req.auth, { signal: ctx.signal, log: ctx.log }) }),
    {
      ids: (req) => ({ image: req.image?.image }),
      secrets: (req) => {
        const a = req.auth;
        return a ? [a.password, a.auth, a.identity_token, a.registry_token].filter(Boolean) : [];
      },
    },
  );
