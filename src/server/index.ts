// Public server API: start a Ferry server in-process.
export { startServer, type FerryServer, type StartOptions } from './app.js';
export { ServerConfig, parseServerConfig, type ServerConfigInput } from './config.js';
