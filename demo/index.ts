// The demo service and its load generator, started by `redscope up` (and by tests).
export { type DemoOptions, type DemoWarming, type RunningDemo, startDemo } from './app.js';
export { DEMO_DEFAULTS, sessionNamespace } from './defaults.js';
export { type LoadOptions, type LoadReport, type RunningLoad, startLoad } from './load.js';
export { DemoDatabase, type DemoUser, demoUsers } from './users.js';
