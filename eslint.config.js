// Lint: neostandard with TypeScript, plus the import boundaries of DESIGN.md.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'scratch/**', 'test-output/**', 'native/build/**', 'bench/out/**', 'interop/out/**', 'examples/plugins/**/*.ts', 'test/plugins/fixtures/**'] }),
  {
    // core/ (errors, identity) sits below both src/ and transports/ and imports neither.
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/src/*', '**/src/**', '**/transports/*', '**/transports/**', '**/native/*', '**/native/**'], message: 'core/ imports nothing from src/, transports/ or native/' }],
      }],
    },
  },
  {
    files: ['transports/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['../src/*', '../../src/*', '../src/**', '../../src/**'], message: 'transports import only the contract and core/ (errors, identity)' }],
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
