// Starts Azurite with its command-line arguments, after the corrections in azurite-patches.cjs.
"use strict";
require("./azurite-patches.cjs").applyAzuritePatches();
require("azurite/dist/src/azurite.js");
