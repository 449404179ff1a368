// The rule editor offers rows only for the directions its Direction select syncs.
// The other table's rows are disabled, so they are neither posted nor saved: the
// defaults of a new rule save as they stand whichever direction is chosen. Until the
// form next goes to the server (Save, Add row, ...) they stay on the page, so
// changing one's mind about the direction brings them back as they were.
"use strict";

(() => {
  const show = (select) => {
    for (const section of select.form?.querySelectorAll("[data-used-by]") ?? []) {
      const used = section.dataset.usedBy.split(" ").includes(select.value);
      const rows = section.querySelector("[data-rows]");
      rows.disabled = !used;
      rows.hidden = !used;
      section.querySelector("[data-unused-note]").hidden = used;
    }
  };
  const showAll = () => document.querySelectorAll("select[data-direction]").forEach(show);

  document.addEventListener("change", (event) => {
    if (event.target.matches?.("select[data-direction]")) show(event.target);
  });
  document.addEventListener("DOMContentLoaded", showAll);
  // Back/forward and reload may restore another direction than the page was rendered with.
  window.addEventListener("pageshow", showAll);
  document.addEventListener("htmx:afterSettle", showAll);
})();
