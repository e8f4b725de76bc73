/** Server settings: defaults ← a JSON config file ← VITRINE_* environment variables ← flags, validated. */
export { loadConfig } from './load.js';
export { defaultConfig, type ServerConfig } from './types.js';
export { validateConfig } from './validate.js';
