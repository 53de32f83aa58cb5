/**
 * How many cases a property test draws. `npm run mutate` runs the suite once per mutant (thousands of times), so there
 * (RF_MUTATION_RUN=1, set by stryker.jest.config.js) each property draws a tenth of its cases, at least 25: the
 * mutation score is then a lower bound of what the full runs of `npm test` catch. Seeds stay random either way.
 */
export function propertyRuns(full: number): number {
  return process.env.RF_MUTATION_RUN === '1' ? Math.max(25, Math.round(full / 10)) : full;
}
