// UploadKit dashboard: the little behaviour the server-rendered pages need. No dependencies.
// - forms with data-confirm ask first;
// - "select all" for the file list;
// - after uploads through <uploadkit-dropzone> finish, the file list is reloaded.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("change", (event) => {
  if (event.target.matches("[data-select-all]")) {
    for (const box of document.querySelectorAll("input[name=key]")) box.checked = event.target.checked;
  }
});

for (const zone of document.querySelectorAll("uploadkit-dropzone[data-reload]")) {
  // Reload once nothing is in flight, leaving the finished bars on screen for a moment.
  zone.addEventListener("uploadkit:complete", () => {
    setTimeout(() => {
      const pending = zone.shadowRoot.querySelectorAll("li:not([data-state])").length;
      if (!pending) window.location.reload();
    }, 1500);
  });
}
