// The demo service and its load generator, started by `redscope up` (and by tests).
export { type DemoOptions, type DemoWarming, type RunningDemo, startDemo } from './app.js';
export { DEMO_DEFAULTS, sessionNamespace } from './defaults.js';
export {
  LOAD_DEFAULTS,
  type LoadKind,
  type LoadOptions,
  type LoadReport,
  type RunningLoad,
  startLoad,
} from './load.js';
export type { ReturningSessions } from './returning-sessions.js';
export { DemoDatabase, type DemoUser, demoUsers } from './users.js';
