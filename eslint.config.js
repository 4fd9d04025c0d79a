// Lint: typescript-eslint's type-aware recommended rules over everything TypeScript the project
// writes (generated code is not ours to lint). Formatting is prettier's (.prettierrc.json).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'gen/', 'provider/cdktf/generated/', 'provider/cdktn/generated/', 'bench/*/.build/', '**/*.js', '**/*.mjs'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.lint.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `async` on a method that implements a Promise-returning interface turns a throw into a
      // rejection, which is what its callers handle; an await is not required for that.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
