// Drag-and-drop reordering for [data-sortable] lists inside an htmx form.
// The rows are the container's direct children with a draggable attribute:
// <li> in an <ol>, or <tr> in a <tbody>. Dropping a row moves it in the DOM
// and submits the form, which saves the order; the Up/Down buttons do the
// same without a mouse.
"use strict";

(() => {
  let dragged = null;

  document.addEventListener("dragstart", (event) => {
    const item = event.target.closest?.("[data-sortable] > [draggable='true']");
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.value || "");
  });

  document.addEventListener("dragover", (event) => {
    if (!dragged) return;
    const over = event.target.closest?.("[data-sortable] > [draggable]");
    if (!over || over.parentElement !== dragged.parentElement) return;
    event.preventDefault();
    if (over === dragged) return;
    const box = over.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    over.parentElement.insertBefore(dragged, after ? over.nextSibling : over);
  });

  document.addEventListener("drop", (event) => {
    if (dragged) event.preventDefault();
  });

  document.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    const form = dragged.closest("form");
    dragged = null;
    if (form) form.requestSubmit();
  });

  // Keep keyboard focus on the Up/Down button that was pressed after htmx swaps the list.
  let focusKey = null;
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("[data-focus-key]");
    focusKey = button ? button.dataset.focusKey : focusKey;
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!focusKey) return;
    const target = document.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    focusKey = null;
    if (!target) return;
    // At the end of the list the pressed button is disabled: move focus to its twin.
    const usable = target.disabled
      ? target.closest("[data-sortable] > *").querySelector("[data-focus-key]:not(:disabled)")
      : target;
    usable?.focus();
  });
})();
