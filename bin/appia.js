#!/usr/bin/env node
// The `appia` command. The TypeScript sources are compiled to dist/ by `npm ci`/`npm install` (the prepare script).
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    console.error('appia: not built yet; run `npm install` (or `npm run build`) in the checkout first');
    process.exit(1);
  }
  throw err;
});
