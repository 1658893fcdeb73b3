// Lint: neostandard with TypeScript, plus the import boundaries of DESIGN.md.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'scratch/**', 'test-output/**', 'native/build/**', 'bench/out/**', 'interop/out/**', 'examples/plugins/**/*.ts', 'test/plugins/fixtures/**'] }),
  {
    files: ['transports/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['../src/*', '../../src/*', '!../src/errors.js', '!../../src/errors.js', '!../../src/identity', '../../src/identity/*', '!../../src/identity/spiffe.js'], message: 'transports import only the contract, src/errors.js and src/identity/spiffe.js' }],
      }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/native/*', '**/native/**'], message: 'only transports/h3 loads native/' }],
      }],
    },
  },
]
