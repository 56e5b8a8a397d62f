import { Encoded } from './protos.js';
import { stream, type AnyRpc } from './rpc.js';

/**
 * STREAMED_LISTS pairs each of the streaming listings that cri-api added after 1.33 (StreamPodSandboxes, …) with the
 * unary List verb it mirrors: the request carries the same filter, and the List answer's repeated field is sent in
 * the stream's field.
 */
const STREAMED_LISTS = [
  { name: 'StreamPodSandboxes', list: 'ListPodSandbox', from: 'items', to: 'pod_sandboxes' },
  { name: 'StreamContainers', list: 'ListContainers', from: 'containers', to: 'containers' },
  { name: 'StreamContainerStats', list: 'ListContainerStats', from: 'stats', to: 'container_stats' },
  { name: 'StreamPodSandboxStats', list: 'ListPodSandboxStats', from: 'stats', to: 'pod_sandbox_stats' },
  { name: 'StreamImages', list: 'ListImages', from: 'images', to: 'images' },
  { name: 'StreamPodSandboxMetrics', list: 'ListPodSandboxMetrics', from: 'pod_metrics', to: 'pod_sandbox_metrics' },
] as const;

/** BATCH is how many items one stream message carries, so that no message nears gRPC's size limit. */
export const BATCH = 500;

/**
 * streamedLists derives the streaming listings from the List verbs present in `table`: each runs the List verb and
 * sends its items in batches of BATCH (one empty message when there are none, so the client sees a complete answer).
 */
export function streamedLists(table: ReadonlyMap<string, AnyRpc>): AnyRpc[] {
  const out: AnyRpc[] = [];
  for (const s of STREAMED_LISTS) {
    const list = table.get(s.list);
    if (list?.kind !== 'unary') continue;
    out.push(
      stream<unknown, Record<string, unknown[]>>(s.name, 'trace', async (req, ctx, send) => {
        const answer = await list.handle(req, ctx);
        // a List verb that answers with its encoded form (ListContainers, ListPodSandbox) gives its items too
        const res = (answer instanceof Encoded ? answer.plain() : answer) as Record<string, unknown[] | undefined>;
        const items = res[s.from] ?? [];
        for (let i = 0; i === 0 || i < items.length; i += BATCH) await send({ [s.to]: items.slice(i, i + BATCH) });
      }),
    );
  }
  return out;
}
