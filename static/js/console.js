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
