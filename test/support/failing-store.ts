// A real store whose writes (new versions and deletes) fail, as an
// unreachable store's would, whenever `failing()` says so: for outage and
// interrupted-run tests.
import { StoreError } from '../../src/stores/errors.ts';
import type { SecretStore } from '../../src/stores/store.ts';

export function withFailingWrites(store: SecretStore, failing: () => boolean): SecretStore {
  return {
    name: store.name,
    type: store.type,
    get: (ref, version) => store.get(ref, version),
    listVersions: (ref) => store.listVersions(ref),
    delete: async (ref) => {
      if (failing()) throw new StoreError('Unavailable', store.name, 'injected outage');
      return store.delete(ref);
    },
    health: () => store.health(),
    putVersion: async (ref, payload, options) => {
      if (failing()) throw new StoreError('Unavailable', store.name, 'injected outage');
      return store.putVersion(ref, payload, options);
    },
  };
}
