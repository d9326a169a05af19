/** The package version (kept equal to package.json's by tests/npm.test.mjs). */
export const VERSION = '0.1.0';
