// Stella Ops console: progressive enhancement only (approve, reject and log in work without
// JavaScript). htmx (htmx.min.js, vendored) sends the session's CSRF token from the body's
// hx-headers. Nothing here builds HTML from data: text goes in with textContent.
"use strict";
document.documentElement.classList.add("js");

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// Kits page: send the chosen file as the request body of POST /api/v1/kits (the API's
// upload-and-import job), then open the job's page, which shows its progress live.
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("kit-upload");
  if (!form) {
    return;
  }
  const status = document.getElementById("kit-upload-status");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const input = document.getElementById("kit-file");
    const file = input.files && input.files[0];
    if (!file) {
      status.textContent = "Choose a kit file first.";
      return;
    }
    status.textContent = "Uploading " + file.name + " (" + file.size + " bytes)…";
    try {
      const response = await fetch("/api/v1/kits?filename=" + encodeURIComponent(file.name), {
        method: "POST",
        body: file,
        credentials: "same-origin",
        headers: {"Content-Type": "application/octet-stream", "X-CSRF-Token": csrfToken()},
      });
      const body = await response.json();
      if (!response.ok) {
        const error = body && body.error ? body.error : {kind: "error", message: response.statusText};
        status.textContent = "✖ Refused (" + error.kind + "): " + error.message;
        return;
      }
      window.location.assign("/jobs/" + encodeURIComponent(body.id));
    } catch (err) {
      status.textContent = "✖ Upload failed: " + err;
    }
  });
});
