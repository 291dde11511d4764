#!/usr/bin/env node
// The compiled CLI lives in dist/ (`npm run build`); this shim keeps `bin` stable.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
