// client-node 2.x takes no AbortSignal directly; a middleware sets it on the
// request. Appended, so client-node's own middleware (User-Agent) still runs.
import { Observable, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

/** Request options that cancel the request when `signal` aborts. */
export function abortable(signal: AbortSignal) {
  return {
    middleware: [
      {
        pre: (request: RequestContext) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  };
}
