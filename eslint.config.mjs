// Type-aware lint over every TypeScript folder. Each folder is checked against its own
// tsconfig (the server's, the page's DOM one, the tests' and the bench's), so rules that need
// types see the same program the compiler does. Plain JavaScript (scripts/, the build scripts,
// the page probes) gets the untyped rules. Formatting is Prettier's (`npm run lint` runs
// `prettier --check` beside this); nothing here argues with it.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', 'client/dist/**', 'bench/results/**', 'coverage/**', '**/*.d.ts'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './client/tsconfig.json', './test/tsconfig.json', './bench/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The three the team asked for by name: a promise nobody awaits or catches loses its
      // error; a promise where a boolean or a void callback is expected runs unchecked; a
      // switch over a union must name every member (new bus tags, states, codes).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // An async method may implement an async interface without awaiting anything.
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a parameter an interface makes us accept.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Vitest's asymmetric matchers (expect.any, expect.stringContaining) are typed `any` by
    // design, to fit any property of the expected object.
    files: ['test/**/*.test.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  {
    // The article's client, verbatim, and its harness: classic scripts sharing one page's
    // globals (harness.js defines playVideo for the article, boot.js calls setSignaling).
    files: ['test/browser/article-page/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
    rules: { 'no-unused-vars': ['error', { vars: 'local', args: 'none' }] },
  },
);
