// Loaded only by stryker.jest.config.js: marks the run as a mutation run (see test/property-runs.ts).
process.env.RF_MUTATION_RUN = '1';
