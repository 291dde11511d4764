export { type ConfigSources, type ExporterConfig, loadExporterConfig } from './config.js';
export { ConfigError } from './config-errors.js';
export { createExporterLogger } from './logger.js';
export { type RunningExporter, startExporter } from './server.js';
