import type { Config } from 'jest';

// One jest project for the whole repository. Tests are grouped by folder (tests/contracts, tests/protocol, ...);
// `npm run test:contracts` selects the sandbox suite alone by path.
const config: Config = {
    preset: 'ts-jest',
    testEnvironment: 'node',
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    roots: ['<rootDir>/tests'],
    transform: { '^.+\\.ts$': ['ts-jest', {}] },
    testTimeout: 60_000,
    // Two cores: keep one worker per core so sandbox suites do not starve each other.
    maxWorkers: 2,
};

export default config;
