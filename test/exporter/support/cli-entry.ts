// Runs the redscope CLI from the TypeScript sources, for tests that need a real process.
import { main } from '../../../cli/main.js';

process.exitCode = await main(process.argv);
