// ccbridge console behaviour. Loaded as a static file: the CSP forbids inline script.
"use strict";

// Toasts sit in the page's flow and stay until dismissed: removing one on a timer
// would shift the page under the pointer just as someone reaches for a button.
document.addEventListener("click", (event) => {
  const close = event.target.closest("[data-dismiss]");
  if (close) {
    close.parentElement.remove();
  }
});

// Enter in a search box that searches by itself (htmx "search" trigger) only searches:
// it must not also submit the surrounding form through its first submit button,
// which on a picker is Save. Cancelling the key also cancels the browser's own
// "search" event, so send it here.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key !== "Enter" || !(box instanceof HTMLInputElement)) {
    return;
  }
  if (box.type === "search" && box.form && box.hasAttribute("hx-trigger")) {
    event.preventDefault();
    box.dispatchEvent(new Event("search"));
  }
});

// Copy buttons: data-copy names the element whose text goes to the clipboard; the
// page's [data-copy-status] says it worked (or how to copy by hand when it did not).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) {
    return;
  }
  const source = document.querySelector(button.dataset.copy);
  const status = document.querySelector("[data-copy-status]");
  try {
    await navigator.clipboard.writeText(source.textContent);
    if (status) status.textContent = "Copied to the clipboard.";
  } catch {
    if (status) status.textContent = "The browser refused to copy: select the text and copy it.";
  }
});
