#!/usr/bin/env node
// The compiled CLI lives in dist/ (`npm run build`); this shim keeps `bin` stable.
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist'))
    throw error;
  process.stderr.write(
    'redscope: not built yet; run `npm run build` in the redscope folder first\n',
  );
  process.exit(1);
}
process.exitCode = await cli.main(process.argv);
