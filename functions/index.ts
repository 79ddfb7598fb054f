// The app's entry (package.json "main"): configuration first, then every function's registration.
import "./startup.js";
import "./health-get.js";
import "./openapi-get.js";
import "./tenants-put.js";
import "./tenants-get.js";
import "./settings-auto-claim-get.js";
import "./settings-auto-claim-put.js";
import "./settings-automation-get.js";
import "./settings-automation-put.js";
import "./events-process.js";
