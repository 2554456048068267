// Tests are ESM TypeScript (see docs/adr/0002-module-system.md): ts-jest
// transpiles each file; `npm run typecheck` does the type checking once.
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.jest.json' }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  // Integration tests start processes and talk to real servers; unit tests
  // finish far sooner. (testTimeout is global: projects cannot set their own.)
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    // Against a real cluster with a kubelet: hack/e2e.sh brings one up and selects this project.
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.test.ts'] },
  ],
};
