import { getConfig } from "../shared/config/config.js";

// Imported first by index.ts: a missing or malformed setting stops the app at load, naming each key.
getConfig();
