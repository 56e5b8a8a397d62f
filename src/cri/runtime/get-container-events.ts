import type { GetEventsRequest__Output } from '../generated/v1/runtime/v1/GetEventsRequest.js';
import type { ContainerEventResponse } from '../generated/v1/runtime/v1/ContainerEventResponse.js';
import type { EventsService } from '../../services/events-service.js';
import { stream } from '../rpc.js';

/** getContainerEvents streams container lifecycle events until the client goes away. */
export const getContainerEvents = (s: EventsService) =>
  stream<GetEventsRequest__Output, ContainerEventResponse>('GetContainerEvents', 'debug', async (_req, ctx, send) => {
    for await (const e of s.subscribe(ctx.signal)) await send(e as ContainerEventResponse);
  });
