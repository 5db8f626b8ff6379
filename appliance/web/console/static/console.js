// Stella Ops console: progressive enhancement only (approve, reject and log in work without
// JavaScript). htmx (htmx.min.js, vendored) sends the session's CSRF token from the body's
// hx-headers. Nothing here builds HTML from data: text goes in with textContent.
"use strict";
document.documentElement.classList.add("js");

// Kits page: the upload is a plain form post (multipart, to /kits/upload) with or without
// JavaScript; the plan job's page then asks to confirm the import.
