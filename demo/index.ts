// The demo service and its load generator, started by `redscope up` (and by tests).
export { type DemoOptions, type RunningDemo, startDemo } from './app.js';
export { type LoadOptions, type LoadReport, type RunningLoad, startLoad } from './load.js';
export { type DemoUser, demoUsers } from './users.js';
