// Stella Ops console: progressive enhancement only (every flow works without JavaScript).
// htmx (htmx.min.js, vendored) sends the session's CSRF token from the body's hx-headers.
document.documentElement.classList.add("js");
