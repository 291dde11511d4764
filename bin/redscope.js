#!/usr/bin/env node
// The compiled CLI lives in dist/ (`npm run build`); this shim keeps `bin` stable.
let cli;
try {
  // The exporter sets its V8 garbage-collector and compiler flags before anything else loads (exporter/node-flags.ts).
  if (process.argv[2] === 'exporter')
    (await import('../dist/exporter/node-flags.js')).applyExporterV8Flags();
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
