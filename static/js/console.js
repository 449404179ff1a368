// ccbridge console behaviour. Loaded as a static file: the CSP forbids inline script.
"use strict";

document.addEventListener("click", (event) => {
  const close = event.target.closest("[data-dismiss]");
  if (close) {
    close.parentElement.remove();
  }
});

// Toasts fade away on their own after a while.
document.addEventListener("DOMContentLoaded", () => {
  for (const toast of document.querySelectorAll(".toast")) {
    setTimeout(() => toast.remove(), 8000);
  }
});
