import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { describeError, isApiError } from './cluster.ts';

describe('describeError', () => {
  it("gives the apiserver's own message, never its headers or whole body", () => {
    const body = JSON.stringify({
      kind: 'Status',
      status: 'Failure',
      message: 'toolconnections.courier.dev "x" is forbidden: User "dev" cannot get resource "toolconnections"',
      code: 403,
    });
    const error = new ApiException(403, 'Unknown API Status Code!', body, { authorization: 'Bearer abc.def' });
    expect(describeError(error)).toBe(
      'toolconnections.courier.dev "x" is forbidden: User "dev" cannot get resource "toolconnections"',
    );
    expect(isApiError(error, 403)).toBe(true);
    expect(describeError(new ApiException(502, 'Bad Gateway', '<html>proxy</html>', {}))).toBe(
      'the API server answered HTTP 502',
    );
  });

  it('names the cause of a network failure, and the message of a WebSocket error event', () => {
    const refused = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:6443') });
    expect(describeError(refused)).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:6443');
    expect(describeError({ type: 'error', message: 'Unexpected server response: 400' })).toBe(
      'Unexpected server response: 400',
    );
  });
});
